"""Position-based channel policies (nearest / interpolate), on real recordings and mne's real montages."""

from __future__ import annotations

import warnings

import mne
import numpy as np
import pytest

from labram_hf.channels import LABRAM_CHANNELS, ChannelPolicyError
from labram_hf.cli import main as labram_main
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor
from labram_hf.io import read_raw
from labram_hf.montage import (
    INTERPOLATION_TARGETS,
    NEAREST_MAX_DISTANCE_MM,
    MontageError,
    _chord_mm,
    _fit_sphere,
    _head_positions,
    describe_mapping,
    format_mapping,
    load_montage,
    map_channels,
    nearest_targets,
    plot_mapping,
    template_directions,
)
from labram_hf.preprocessing import preprocess, preprocess_raw, select_channels
from tests.data_fixtures import absence_eeg_30s  # noqa: F401

ROW = {name: i for i, name in enumerate(LABRAM_CHANNELS)}
OLD = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}  # position-only channels map to the old-name rows


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _smooth_field(positions: np.ndarray, n_times: int, sfreq: float, seed: int = 0) -> np.ndarray:
    """Synthetic EEG in volts: three spatially linear fields (x, y, z of the head position) times sinusoids, plus a
    little independent noise; ``[channels, time]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    courses = np.stack([np.sin(2 * np.pi * f * t + p) for f, p in ((3.0, 0.1), (7.0, 1.3), (11.0, 2.2))])
    centred = positions - positions.mean(axis=0)
    return 2e-4 * centred @ courses + 1e-7 * rng.standard_normal((len(positions), n_times))


def test_distance_limit_is_half_the_10_10_spacing():
    # the 10-10 electrodes on mne's standard sphere (radius 95 mm): median distance to the nearest neighbour
    ten10 = mne.channels.make_standard_montage("spherical_1010").ch_names
    pos = mne.channels.make_standard_montage("spherical_1005").get_positions()["ch_pos"]
    xyz = np.array([pos[n] for n in ten10])
    dirs = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    dist = _chord_mm(dirs, dirs)
    np.fill_diagonal(dist, np.inf)
    assert len(xyz) == 70
    assert abs(np.median(dist.min(axis=1)) / 2 - NEAREST_MAX_DISTANCE_MM) < 0.1  # 27.99 mm / 2
    targets = nearest_targets()
    assert "T3" in targets and "T7" not in targets and "FTT9h" not in targets and "FP1-F7" not in targets
    assert "T1" not in targets and "CB1" in targets and "O9" in targets


def test_generic_names_with_standard_positions_map_back(absence_eeg_30s):  # noqa: F811
    """A real recording whose channels are renamed 'EEG 001'... but carry the standard_1020 positions of their
    original names: 'nearest' recovers every original electrode."""
    raw = absence_eeg_30s.copy()  # 23 channels: the 10-20 set with old names, A1 A2 FT9 FT10
    original = [n.removeprefix("EEG ") for n in raw.ch_names]
    std = mne.channels.make_standard_montage("colin27_1020").get_positions()
    generic = [f"EEG {k + 1:03d}" for k in range(len(original))]
    raw.rename_channels(dict(zip(raw.ch_names, generic)))
    digitised = mne.channels.make_dig_montage(
        ch_pos={g: std["ch_pos"][o] for g, o in zip(generic, original)}, nasion=std["nasion"], lpa=std["lpa"],
        rpa=std["rpa"], coord_frame=std["coord_frame"],
    )  # fmt: skip
    raw.set_montage(digitised)
    with pytest.raises(ChannelPolicyError, match=r"unknown EEG channel name\(s\) \['EEG 001'"):
        preprocess_raw(raw)
    table = describe_mapping(raw, channel_policy="nearest")
    assert [r["row"] for r in table] == [o.upper() for o in original]
    assert {r["how"] for r in table} == {"nearest"} and max(r["distance_mm"] for r in table) < 8.0
    out = preprocess_raw(raw, channel_policy="nearest")
    assert len(out.channel_ids) == 23  # all mapped
    named = preprocess_raw(absence_eeg_30s.copy())
    assert out.channel_ids == named.channel_ids
    np.testing.assert_array_equal(out.values, named.values)


def test_egi_hydrocel_129_nearest():
    montage = mne.channels.make_standard_montage("GSN-HydroCel-129")
    names = montage.ch_names  # E1 .. E128 and Cz
    with pytest.warns(UserWarning) as record:
        mapping = map_channels(names, channel_policy="nearest", montage="GSN-HydroCel-129")
    rows = {r.channel: r for r in mapping.rows}
    # documented result: 81 of 129 electrodes mapped one-to-one (Cz by name, 80 by position), 5 ambiguous ones
    # lost their nearest electrode to a closer channel, 43 lie farther than 14 mm from every free electrode
    assert len(mapping.ids) == 81 == len(set(mapping.ids))
    assert rows["Cz"].how == "exact" and sum(r.how == "nearest" for r in mapping.rows) == 80
    assert mapping.template == "standard_1005"
    ambiguous = sorted(r.channel for r in mapping.rows if r.note.startswith("ambiguous"))
    assert ambiguous == ["E101", "E2", "E26", "E58", "E82"]
    assert "went to the closer 'E50'" in rows["E58"].note
    # EGI's documented 10-20 equivalents that lie within the limit
    for egi, row in {"E22": "FP1", "E9": "FP2", "E24": "F3", "E124": "F4", "E36": "C3", "E104": "C4",
                     "E70": "O1", "E83": "O2", "E33": "F7", "E122": "F8", "E62": "PZ", "E75": "OZ"}.items():  # fmt: skip
        assert rows[egi].row == row and rows[egi].distance_mm <= NEAREST_MAX_DISTANCE_MM, egi
    text = " ".join(str(w.message) for w in record)
    assert "mapped 80 channel(s) by position" in text and "ambiguous (their nearest electrode" in text

    # through preprocess, on an array: E36 becomes the C3 row, with exactly E36's signal
    pos = _head_positions(montage)
    data = _smooth_field(np.array([pos[n] for n in names]), 2000, 250.0)
    out = _quiet(preprocess, data, 250.0, names, channel_policy="nearest", montage="GSN-HydroCel-129",
                 precision="float64")  # fmt: skip
    k = out.channel_names.index("E36")
    assert out.channel_ids[k] == ROW["C3"]
    alone = preprocess(data[[names.index("E36")]], 250.0, ["C3"], precision="float64")
    np.testing.assert_allclose(out.values[k], alone.values[0], atol=1e-6)


def test_egi_hydrocel_129_interpolate_matches_mne():
    montage = mne.channels.make_standard_montage("GSN-HydroCel-129")
    names = montage.ch_names
    mapping = map_channels(names, channel_policy="interpolate", montage="GSN-HydroCel-129", warn=False)
    expected = ["CZ"] + [n for n in INTERPOLATION_TARGETS if n != "CZ"]
    assert [LABRAM_CHANNELS[i] for i in mapping.ids] == expected
    assert mapping.matrix.shape == (19, 129) and np.allclose(mapping.matrix.sum(axis=1), 1.0, atol=1e-6)
    assert sum(r["how"] == "interpolated" for r in describe_mapping(mapping)) == 18

    pos = _head_positions(montage)
    xyz = np.array([pos[n] for n in names])
    data = _smooth_field(xyz, 500, 250.0)
    values = mapping.apply(data)  # [19, T]
    # mne's own interpolation of a bad channel placed at C3 (on the recording's sphere)
    centre, radius = _fit_sphere(xyz)
    c3 = centre + radius * template_directions()["C3"]
    info = mne.create_info(names + ["C3"], 250.0, "eeg")
    raw = mne.io.RawArray(np.vstack([data, np.zeros((1, data.shape[1]))]), info, verbose="error")
    raw.set_montage(mne.channels.make_dig_montage({**{n: pos[n] for n in names}, "C3": c3}, coord_frame="head"))
    raw.info["bads"] = ["C3"]
    _quiet(raw.interpolate_bads, origin=centre, reset_bads=True, verbose="error")
    ours = values[expected.index("C3")]
    theirs = raw.get_data(picks=["C3"])[0]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * np.abs(theirs).max())
    # and the field itself: the smooth field at C3's position, within 5% of its range
    field = _smooth_field(np.vstack([xyz, c3]), 500, 250.0)[-1]
    assert np.abs(ours - field).max() < 0.05 * np.ptp(field)

    # the feature extractor gives the same rows (after its filter chain) as preprocess
    fe = LaBraMFeatureExtractor(channel_policy="interpolate", montage="GSN-HydroCel-129")
    batch = _quiet(fe, _smooth_field(xyz, 2500, 250.0), sampling_rate=250.0, channel_names=names,
                   return_tensors="np")  # fmt: skip
    assert batch["channel_ids"][0].tolist() == [ROW[n] for n in expected]
    assert np.isfinite(batch["input_values"]).all() and batch["input_values"].shape == (1, 19, 2000)


def _biosemi_bdf(raw, path):
    """A 64-channel BDF with BioSemi amplifier labels A1..B32 and real EEG (the 19 10-20 channels, tiled)."""
    src = raw.get_data(picks=[f"EEG {c}" for c in "Fp1 Fp2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 Fz Cz Pz".split()])
    rng = np.random.default_rng(1)
    data = src[np.arange(64) % len(src)] + 2e-6 * rng.standard_normal((64, src.shape[1]))
    labels = [f"{bank}{k}" for bank in "AB" for k in range(1, 33)]
    bdf = mne.io.RawArray(data, mne.create_info(labels, raw.info["sfreq"], "eeg"), verbose="error")
    mne.export.export_raw(path, bdf, fmt="bdf", overwrite=True, verbose="error")
    return labels


def test_biosemi_abc_labels_with_the_biosemi64_montage(absence_eeg_30s, tmp_path, capsys):  # noqa: F811
    path = tmp_path / "cap64.bdf"
    labels = _biosemi_bdf(absence_eeg_30s, path)
    raw = read_raw(path)
    cap = mne.channels.make_standard_montage("biosemi64").ch_names  # Fp1, AF7, ... in A1..B32 order
    with pytest.warns(UserWarning) as record:
        out = preprocess_raw(raw, channel_policy="nearest", montage="biosemi64")
    expected = [ROW[OLD.get(n.upper(), n.upper())] for n in cap]
    assert out.channel_ids == expected and out.channel_names == labels
    text = " ".join(str(w.message) for w in record)
    assert "channel 'A1' is named like the vocabulary electrode A1 but positioned 123 mm from it" in text
    assert "mapped by position to FP1" in text and "mapped by position to AF7" in text
    # strict cannot know what B7 is
    with pytest.raises(ChannelPolicyError, match="unknown EEG channel"):
        _quiet(preprocess_raw, raw, channel_policy="strict")
    # interpolate: 19 10-20 electrodes, none of them named in the file
    inter = _quiet(preprocess_raw, raw, channel_policy="interpolate", montage="biosemi64")
    assert [LABRAM_CHANNELS[i] for i in inter.channel_ids] == list(INTERPOLATION_TARGETS)

    png = tmp_path / "mapping.png"
    code = labram_main(["channels", str(path), "--channel-policy", "nearest", "--montage", "biosemi64",
                        "--plot", str(png)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert any(line.split()[:3] == ["A1", "FP1", "nearest"] for line in printed.splitlines())
    assert "64 model channel(s) under channel_policy='nearest'" in printed and "spherical_besa" in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    # an existing plot is not replaced without --overwrite
    assert labram_main(["channels", str(path), "--channel-policy", "nearest", "--montage", "biosemi64",
                        "--plot", str(png)]) == 2  # fmt: skip


def test_cli_reports_a_mapping_that_preprocessing_refuses(absence_eeg_30s, tmp_path, capsys):  # noqa: F811
    raw = absence_eeg_30s.copy().pick(["EEG Fz", "EEG Pz", "EEG C3"])
    raw.rename_channels({"EEG Fz": "EEG Fpz-Cz", "EEG Pz": "EEG Pz-Oz"})
    path = tmp_path / "sleep.edf"
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    assert labram_main(["channels", str(path)]) == 2
    captured = capsys.readouterr()
    assert "EEG Fpz-Cz" in captured.out and "bipolar derivation FPZ - CZ" in captured.out
    assert "preprocessing would stop here" in captured.err and "--bipolar anode" in captured.err
    assert labram_main(["channels", str(path), "--bipolar", "anode", "--json"]) == 0
    table = __import__("json").loads(capsys.readouterr().out)
    assert [(r["channel"], r["row"], r["how"]) for r in table] == [
        ("EEG Fpz-Cz", "FPZ", "anode"), ("EEG Pz-Oz", "PZ", "anode"), ("EEG C3", "C3", "exact")]  # fmt: skip
    assert labram_main(["channels", str(path), "--montage", "biosemi64"]) == 2
    assert "--channel-policy nearest" in capsys.readouterr().err


def test_positions_dict_and_plot(tmp_path):
    montage = mne.channels.make_standard_montage("easycap-M1")
    pos = _head_positions(montage)
    keep = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz", "T7", "T8"]
    names = [f"ch{k}" for k in range(len(keep))]
    positions = {n: pos[k] for n, k in zip(names, keep)}
    data = _smooth_field(np.array([pos[k] for k in keep]), 1000, 200.0)
    out = _quiet(preprocess, data, 200.0, names, channel_policy="nearest", positions=positions)
    assert [LABRAM_CHANNELS[i] for i in out.channel_ids] == [OLD.get(k.upper(), k.upper()) for k in keep]
    mapping = map_channels(names, channel_policy="interpolate", positions=positions, warn=False)
    # targets inside the cap's coverage only: F7/F8/T5/T6 lie outside these 15 electrodes' hull
    assert [LABRAM_CHANNELS[i] for i in mapping.ids] == ["FP1", "FP2", "F3", "FZ", "F4", "T3", "C3", "CZ", "C4",
                                                         "T4", "P3", "PZ", "P4", "O1", "O2"]  # fmt: skip
    assert {r.row for r in mapping.rows if r.how == "dropped" and r.row} == {"F7", "F8", "T5", "T6"}
    assert "interpolated" in format_mapping(mapping)
    png = plot_mapping(mapping, tmp_path / "m.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # positions in millimetres are refused
    with pytest.raises(MontageError, match="not a head in metres"):
        map_channels(names, channel_policy="nearest", positions={n: p * 1000 for n, p in positions.items()})


def test_position_errors():
    with pytest.raises(MontageError, match="unknown montage 'biosemi65'") as err:
        load_montage("biosemi65")
    assert "biosemi64" in err.value.hint
    with pytest.raises(ChannelPolicyError, match="no EEG channel recognised") as err:
        _quiet(select_channels, ["E1", "E2", "E3"], channel_policy="nearest")
    assert "no electrode positions were found" in err.value.hint
    with pytest.raises(MontageError, match="needs electrode positions of at least 3 EEG channels"):
        select_channels(["E1", "E2"], channel_policy="interpolate")


def test_interpolate_with_an_explicit_selection():
    names = mne.channels.make_standard_montage("GSN-HydroCel-129").ch_names
    mapping = map_channels(names, channel_policy="interpolate", montage="GSN-HydroCel-129", channels=["C3", "Cz", "O1"],
                           warn=False)  # fmt: skip
    assert [LABRAM_CHANNELS[i] for i in mapping.ids] == ["C3", "CZ", "O1"]
    cz = [names[p] for p in mapping.positions].index("Cz")
    np.testing.assert_array_equal(mapping.matrix[1], np.eye(len(mapping.positions))[cz])  # Cz is recorded
    assert abs(mapping.matrix[0].sum() - 1) < 1e-6 and mapping.matrix[0, cz] != 1.0  # C3 is interpolated
    with pytest.raises(MontageError, match=r"cannot interpolate \['T1'\]: they have no position"):
        map_channels(names, channel_policy="interpolate", montage="GSN-HydroCel-129", channels=["T1"], warn=False)
