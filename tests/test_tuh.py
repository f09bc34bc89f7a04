"""TUAB / TUEV recipes on small TUH-layout trees assembled from the REAL TUH-format sample EDF."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from labram_hf.channels import TUH_CHANNELS, channel_ids  # noqa: E402
from labram_hf.data import DatasetBuildError, load_dataset_contract  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.data.tuh import (  # noqa: E402
    TUEV_CLASSES,
    build_tuab,
    build_tuev,
    subject_of,
    subject_split,
)
from labram_hf.preprocessing import preprocess_file  # noqa: E402


@pytest.fixture(scope="module")
def tuh_crop(tmp_path_factory):
    """30 s of tuh_00000115_s07_a00.edf (256 Hz, TUH names) with the 23 channels plus two extra ones."""
    root = tmp_path_factory.mktemp("tuhsrc")
    picks = [f"EEG {c}-REF" for c in TUH_CHANNELS] + ["EEG EKG1-REF", "EEG 31-REF"]
    return export_crop("tuh", root / "crop.edf", 60, 90, picks=picks)


def _copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


@pytest.fixture(scope="module")
def tuab_root(tuh_crop, tmp_path_factory):
    root = tmp_path_factory.mktemp("tuab") / "edf"
    for subj, cls, sess in [("aaaaaaaa", "normal", 1), ("aaaaaaaa", "normal", 2), ("aaaaaaab", "abnormal", 1),
                            ("aaaaaaac", "normal", 1), ("aaaaaaad", "abnormal", 1), ("aaaaaaae", "abnormal", 1)]:
        _copy(tuh_crop, root / "train" / cls / "01_tcp_ar" / f"{subj}_s00{sess}_t000.edf")
    for subj, cls in [("aaaaaaba", "normal"), ("aaaaaabb", "abnormal")]:
        _copy(tuh_crop, root / "eval" / cls / "01_tcp_ar" / f"{subj}_s001_t000.edf")
    return root


REC_ROWS = ["12,10.0,11.0,6", "3,0.5,1.5,1", "0,29.0,30.0,4"]


@pytest.fixture(scope="module")
def tuev_root(tuh_crop, tmp_path_factory):
    root = tmp_path_factory.mktemp("tuev") / "edf"
    names = [("train", "aaaaablw", "aaaaablw_00000001"), ("train", "aaaaablx", "aaaaablx_00000001"),
             ("train", "aaaaably", "aaaaably_00000002"), ("eval", "000", "bckg_000_a_")]  # fmt: skip
    for i, (split, folder, stem) in enumerate(names):
        f = _copy(tuh_crop, root / split / folder / f"{stem}.edf")
        rows = REC_ROWS if i == 0 else [f"{i},{5.0 + i},{6.0 + i},{i + 1}"]
        f.with_suffix(".rec").write_text("\n".join(rows) + "\n")
    return root


def test_subject_split_is_seeded_and_subject_level():
    files = [Path(f"s{i:02d}_s001_t000.edf") for i in range(10)] + [Path("s03_s002_t000.edf")]
    tr1, va1 = subject_split(files, 0.2, seed=1)
    tr2, va2 = subject_split(files, 0.2, seed=1)
    assert (tr1, va1) == (tr2, va2) and len({subject_of(f) for f in va1}) == 2
    assert not {subject_of(f) for f in tr1} & {subject_of(f) for f in va1}
    assert subject_of("aaaaamye_s001_t000.edf") == "aaaaamye"
    assert subject_split(files, 0.2, seed=2)[1] != va1 or subject_split(files, 0.2, seed=3)[1] != va1


def test_build_tuab(tuab_root, tmp_path):
    out = tmp_path / "tuab"
    dd = build_tuab(tuab_root.parent, out, progress=False)  # the parent of edf/ is accepted too
    assert set(dd) == {"train", "validation", "test"}
    assert len(dd["test"]) == 2 * 3
    assert len(dd["train"]) + len(dd["validation"]) == 6 * 3
    subj = lambda d: {subject_of(s) for s in d["source"]}  # noqa: E731
    assert not subj(dd["train"]) & subj(dd["validation"])
    assert dd["train"].features["label"].names == ["normal", "abnormal"]
    row = dd["test"].with_format("numpy")[0]
    assert row["input_values"].shape == (23, 2000)
    assert row["channel_ids"].tolist() == channel_ids(TUH_CHANNELS)
    labels = {Path(s).parent.parent.name: lab for s, lab in zip(dd["test"]["source"], dd["test"]["label"])}
    assert labels == {"normal": 0, "abnormal": 1}
    reloaded = datasets.load_from_disk(str(out))
    assert isinstance(reloaded, datasets.DatasetDict) and len(reloaded["test"]) == 6
    # the preprocessing contract, at the top and in every split directory
    for where in (out, out / "train", out / "validation", out / "test", reloaded["test"]):
        fe, schema = load_dataset_contract(where)
        assert fe.channels == list(TUH_CHANNELS) and fe.channel_policy == "lenient" and fe.window_seconds == 10.0
        assert (fe.notch_freq, fe.l_freq, fe.h_freq) == (50.0, 0.1, 75.0) and schema.names == ("normal", "abnormal")
    # identical windows to the plain preprocessing with the 23 channels in TUH order
    pre = preprocess_file(reloaded["test"]["source"][0], channels=TUH_CHANNELS)
    np.testing.assert_array_equal(row["input_values"], pre.values[:, :2000])
    # seeded: the same split again
    again = build_tuab(tuab_root, None, progress=False)
    assert sorted(set(again["validation"]["source"])) == sorted(set(dd["validation"]["source"]))


def test_build_tuev(tuev_root):
    dd = build_tuev(tuev_root, None, progress=False)
    assert set(dd) == {"train", "validation", "test"}
    assert dd["test"].features["label"].names == list(TUEV_CLASSES)
    assert len(dd["train"]) + len(dd["validation"]) == 3 + 1 + 1 and len(dd["test"]) == 1
    allrows = datasets.concatenate_datasets([dd["train"], dd["validation"]]).with_format("numpy")
    first = [i for i, s in enumerate(allrows["source"]) if s.endswith("aaaaablw_00000001.edf")]
    assert len(first) == 3
    rows = [allrows[i] for i in first]
    assert [int(r["label"]) for r in rows] == [5, 0, 3]  # 6 -> bckg, 1 -> spsw, 4 -> eyem
    assert [int(r["event_channel"]) for r in rows] == [12, 3, 0]
    pre = preprocess_file(rows[0]["source"], channels=TUH_CHANNELS)
    sig = pre.values
    n = sig.shape[1]
    tiled = np.concatenate([sig] * 3, axis=1)
    for r, start in zip(rows, [10.0, 0.5, 29.0]):
        s = n + int(round(start * 200)) - 400
        assert r["input_values"].shape == (23, 1000)
        np.testing.assert_array_equal(r["input_values"], tiled[:, s : s + 1000])
    assert float(rows[1]["start"]) == pytest.approx(-1.5)  # wraps around the tiled signal


def test_tuev_bad_rec_and_layout(tuev_root, tmp_path):
    broken = tmp_path / "edf"
    shutil.copytree(tuev_root, broken)
    rec = next((broken / "train").rglob("*.rec"))
    rec.write_text("1,2.0,3.0,9\n")
    with pytest.raises(DatasetBuildError, match=r"\.rec: labels must be 1\.\.6"):
        build_tuev(broken, None, progress=False)
    rec.unlink()
    with pytest.raises(DatasetBuildError, match="no event file"):
        build_tuev(broken, None, progress=False)
    with pytest.raises(DatasetBuildError, match="train/"):
        build_tuev(tmp_path / "edf" / "train", None, progress=False)
