"""Shared fixtures on the real sample recordings (fetched once into the default cache, see labram_hf.sample_data).

Import the fixtures into a test module with ``from tests.data_fixtures import sample_paths, ...``. Loaded recordings are
memoised per process, so each file is read from disk at most once per test session; fixtures hand out copies.
"""

from __future__ import annotations

import functools
from pathlib import Path

import mne
import pytest

from labram_hf.sample_data import fetch_sample_data, load_sample_raw

# The 19 standard 10-20 EEG channels + ears of the eeghdf recordings.
EEGHDF_EEG = [f"EEG {c}" for c in
              "Fp1 Fp2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 Fz Cz Pz A1 A2 FT9 FT10".split()]  # fmt: skip


@functools.lru_cache(maxsize=None)
def _paths() -> dict[str, Path]:
    return fetch_sample_data()


@functools.lru_cache(maxsize=None)
def _raw(name: str) -> mne.io.BaseRaw:
    _paths()
    return load_sample_raw(name)


@pytest.fixture(scope="session")
def sample_paths() -> dict[str, Path]:
    """Paths of the three sample files in the default cache (downloaded on first use)."""
    return _paths()


@pytest.fixture
def absence_raw() -> mne.io.BaseRaw:
    """The whole absence-epilepsy recording (a copy; 1811 s, 36 channels, 200 Hz)."""
    return _raw("absence").copy()


@pytest.fixture
def spasms_raw() -> mne.io.BaseRaw:
    return _raw("spasms").copy()


@pytest.fixture
def tuh_raw() -> mne.io.BaseRaw:
    """The TUH EDF recording (a copy; 300 s, 33 channels, 256 Hz)."""
    return _raw("tuh").copy()


@pytest.fixture
def absence_eeg_30s() -> mne.io.BaseRaw:
    """30 s of the 23 vocabulary EEG channels of the absence recording (awake, 1000-1030 s)."""
    return _raw("absence").copy().pick(EEGHDF_EEG).crop(1000.0, 1030.0, include_tmax=False)


@pytest.fixture
def tuh_eeg_20s() -> mne.io.BaseRaw:
    """20 s of the TUH recording, all 33 channels, 256 Hz."""
    return _raw("tuh").copy().crop(60.0, 80.0, include_tmax=False)
