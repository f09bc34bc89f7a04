"""Fetching, verifying and labelling the real sample recordings (labram_hf.sample_data)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tests.data_fixtures import absence_raw, sample_paths, spasms_raw  # noqa: F401  (fixtures)

from labram_hf import sample_data as sd


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cache_copy(tmp_path, sample_paths):  # noqa: F811
    """A private copy of the real cache (archive + files), so tests can damage it without re-downloading."""
    real_root = sample_paths["absence"].parent.parent
    root = tmp_path / "cache"
    root.mkdir()
    shutil.copy2(real_root / sd.ARCHIVE_NAME, root / sd.ARCHIVE_NAME)
    shutil.copytree(sample_paths["absence"].parent, root / sample_paths["absence"].parent.name)
    return root


@pytest.fixture
def no_download(monkeypatch):
    def fail(dest_dir):
        raise AssertionError("must not download")

    monkeypatch.setattr(sd, "_download_archive", fail)


def test_fetch_returns_verified_files(sample_paths):  # noqa: F811
    assert set(sample_paths) == {"absence", "spasms", "tuh"}
    for short, path in sample_paths.items():
        assert path.name == sd.SAMPLE_NAMES[short]
        assert _sha(path) == sd.SAMPLE_FILES[path.name]
    assert _sha(sample_paths["absence"].parent.parent / sd.ARCHIVE_NAME) == sd.ARCHIVE_SHA256


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LABRAM_HF_DATA", str(tmp_path / "x"))
    assert sd.get_data_dir() == tmp_path / "x"
    assert sd.get_data_dir(tmp_path / "y") == tmp_path / "y"
    monkeypatch.delenv("LABRAM_HF_DATA")
    assert sd.get_data_dir() == Path.home() / ".cache" / "labram_hf" / "sample_data"


def test_verified_cache_is_not_rehashed(cache_copy, no_download, monkeypatch):
    sd.fetch_sample_data(cache_copy)  # writes/refreshes the stamp
    monkeypatch.setattr(sd, "_sha256", lambda p: (_ for _ in ()).throw(AssertionError("rehashed")))
    paths = sd.fetch_sample_data(cache_copy)
    assert paths["tuh"].parent.parent == cache_copy


def test_corrupt_and_missing_files_are_repaired_from_archive(cache_copy, no_download):
    files = cache_copy / f"{sd.PACKAGE}-{sd.VERSION}"
    target = files / "absence_epilepsy.eeg.h5"
    with open(target, "r+b") as fh:  # flip bytes in the middle, same size
        fh.seek(1_000_000)
        fh.write(b"\x00" * 64)
    (files / "spasms.eeg.h5").unlink()
    with open(files / "tuh_00000115_s07_a00.edf", "r+b") as fh:  # partial file
        fh.truncate(1000)
    paths = sd.fetch_sample_data(cache_copy)
    for path in paths.values():
        assert _sha(path) == sd.SAMPLE_FILES[path.name]
    assert not [p for p in cache_copy.iterdir() if p.name.startswith(".fetch-")]  # temp dir cleaned up


def test_stale_stamp_does_not_hide_corruption(cache_copy, no_download):
    files = cache_copy / f"{sd.PACKAGE}-{sd.VERSION}"
    target = files / "tuh_00000115_s07_a00.edf"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[5000] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime as verified
    sd.fetch_sample_data(cache_copy, force=True)
    assert _sha(target) == sd.SAMPLE_FILES[target.name]


def test_corrupt_archive_is_downloaded_again(cache_copy, sample_paths, monkeypatch):  # noqa: F811
    real_archive = sample_paths["absence"].parent.parent / sd.ARCHIVE_NAME
    calls = []

    def fake_download(dest_dir):
        calls.append(dest_dir)
        shutil.copy(real_archive, dest_dir / sd.ARCHIVE_NAME)
        return dest_dir / sd.ARCHIVE_NAME

    monkeypatch.setattr(sd, "_download_archive", fake_download)
    (cache_copy / sd.ARCHIVE_NAME).write_bytes(b"not a tarball")
    (cache_copy / f"{sd.PACKAGE}-{sd.VERSION}" / "spasms.eeg.h5").unlink()
    paths = sd.fetch_sample_data(cache_copy)
    assert len(calls) == 1
    assert _sha(paths["spasms"]) == sd.SAMPLE_FILES["spasms.eeg.h5"]
    assert _sha(cache_copy / sd.ARCHIVE_NAME) == sd.ARCHIVE_SHA256


def test_download_with_wrong_checksum_is_refused(tmp_path, monkeypatch):
    def bogus(dest_dir):
        (dest_dir / sd.ARCHIVE_NAME).write_bytes(b"tampered")
        return dest_dir / sd.ARCHIVE_NAME

    monkeypatch.setattr(sd, "_download_archive", bogus)
    with pytest.raises(RuntimeError, match="SHA-256"):
        sd.fetch_sample_data(tmp_path)
    assert not (tmp_path / sd.ARCHIVE_NAME).exists()
    assert not list((tmp_path / f"{sd.PACKAGE}-{sd.VERSION}").iterdir())


def test_concurrent_fetches(cache_copy):
    """Two processes repairing the same cache at once both succeed (file lock + atomic renames)."""
    shutil.rmtree(cache_copy / f"{sd.PACKAGE}-{sd.VERSION}")
    # load the module by path, so the subprocesses skip the (torch-heavy) package __init__
    code = (
        "import sys, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('sd', {sd.__file__!r})\n"
        "sd = importlib.util.module_from_spec(spec); spec.loader.exec_module(sd)\n"
        "sd._download_archive = lambda d: (_ for _ in ()).throw(RuntimeError('no download'))\n"
        "p = sd.fetch_sample_data(sys.argv[1]); print(sorted(p))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(cache_copy)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "absence" in out
    for fname, sha in sd.SAMPLE_FILES.items():
        assert _sha(cache_copy / f"{sd.PACKAGE}-{sd.VERSION}" / fname) == sha


def test_load_sample_raw_names(sample_paths):  # noqa: F811
    with pytest.raises(ValueError, match="Unknown sample recording"):
        sd.load_sample_raw("nope")


def test_absence_annotations(absence_raw):  # noqa: F811
    ann = absence_raw.annotations
    assert len(ann) == 114
    texts = Counter(ann.description)
    assert texts["SZ START"] == 3 and texts["SZ END"] == 3
    assert texts["eyes open"] == 8 and texts["eyes closed"] == 7
    assert ann.description[0] == "REC START Biocal CAL"
    i = list(ann.description).index("awakened pt")
    assert ann.onset[i] - absence_raw.first_time == pytest.approx(898.754, abs=1e-3)


def test_sleep_wake_spans_and_windows(absence_raw, spasms_raw):  # noqa: F811
    spans = sd.sleep_wake_spans(absence_raw)
    assert spans[0] == pytest.approx((44.808, 898.754, 1), abs=1e-3)  # "sleeping on back" -> "awakened pt"
    assert all(s.label == 0 for s in spans[1:]) and spans[-1].stop == pytest.approx(1811.0)
    # seizures (SZ START .. SZ END) are cut out of the awake span
    assert any(s.stop == pytest.approx(1380.512, abs=1e-3) for s in spans)
    wins = sd.sleep_wake_windows(absence_raw, window_seconds=4.0)
    counts = Counter(w.label for w in wins)
    assert counts[0] > 150 and counts[1] > 150
    for start, label in wins:
        assert any(s.start - 1e-6 <= start and start + 4.0 <= s.stop + 1e-6 and s.label == label for s in spans)
    assert sd.SLEEP_WAKE_LABELS == {0: "awake", 1: "asleep"}

    sp = sd.sleep_wake_spans(spasms_raw)
    assert sp[0] == pytest.approx((496.976, 1297.775, 1), abs=1e-3)  # "sleeping quietly" -> "awakening pt"
    wins = sd.sleep_wake_windows(spasms_raw, window_seconds=10.0, stride_seconds=5.0)
    spasm_onsets = [o for o, d in zip(spasms_raw.annotations.onset, spasms_raw.annotations.description)
                    if d.startswith("SPASM")]  # fmt: skip
    assert len(spasm_onsets) == 4
    assert not any(s <= o < s + 10 for s, _ in wins for o in spasm_onsets)
    assert set(l for _, l in wins) == {0, 1}


def test_eyes_open_closed(absence_raw, spasms_raw):  # noqa: F811
    spans = sd.eyes_open_closed_spans(absence_raw)
    assert len(spans) == 15
    assert spans[0] == pytest.approx((902.618, 928.074, 0), abs=1e-3)
    assert all(s.stop - s.start <= 30.0 + 1e-9 for s in spans)
    wins = sd.eyes_open_closed_windows(absence_raw, window_seconds=2.0)
    labels = np.array([w.label for w in wins])
    assert (labels == 0).sum() > 20 and (labels == 1).sum() > 20
    assert sd.EYES_LABELS == {0: "eyes open", 1: "eyes closed"}
    with pytest.raises(ValueError, match="eyes"):
        sd.eyes_open_closed_spans(spasms_raw)
