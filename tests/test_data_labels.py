"""Labels you can trust (issue 8): class order, integer labels, CSV matching, schemas, marker spans, and why a build
produced no window. Files are 20-24 s crops of the REAL sample recordings."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from labram_hf.data import DatasetBuildError, build_dataset, load_dataset_contract  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.data.labels import coerce_label  # noqa: E402


def build(inputs, output=None, **kw):
    kw.setdefault("progress", False)
    return build_dataset(inputs, output, **kw)


def write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def recs(tmp_path_factory):
    """Three 20-s recordings (2 windows of 10 s each) in two directories, and same-named copies elsewhere."""
    root = tmp_path_factory.mktemp("labels")
    a = export_crop("absence", root / "x" / "absence_a.edf", 100, 120)
    b = export_crop("absence", root / "x" / "absence_b.edf", 600, 620)
    s = export_crop("spasms", root / "y" / "spasms_a.edf", 100, 120)
    twin = root / "z" / "absence_a.edf"  # same file name as x/absence_a.edf, another directory
    twin.parent.mkdir()
    shutil.copyfile(a, twin)
    return {"root": root, "a": a, "b": b, "s": s, "twin": twin}


def by_source(ds) -> dict[str, int]:
    return {Path(src).name: lab for src, lab in zip(ds["source"], ds["label"])}


@pytest.mark.parametrize(
    "value, expected",
    [(1, 1), (1.0, 1), ("1", 1), (" 1 ", 1), ("1.0", 1), (" 0.0", 0), (True, 1), (np.int64(2), 2), (np.float32(3), 3),
     ("wake", "wake"), ("  Sleep stage 2 ", "Sleep stage 2")],
)  # fmt: skip
def test_integer_valued_labels_are_integers(value, expected):
    assert coerce_label(value) == expected


@pytest.mark.parametrize("value", [0.5, "0.5", " 2.25", float("nan"), "nan", "inf", ""])
def test_non_integer_numbers_are_errors(value):
    with pytest.raises(DatasetBuildError):
        coerce_label(value)


def test_class_ids_do_not_depend_on_file_order(recs, tmp_path):
    """Train and validation built from different file orders give every class the same id (sorted names)."""
    name = {recs["a"]: "absence", recs["b"]: "absence", recs["s"]: "spasms"}
    fn = lambda p: name[Path(p)]  # noqa: E731
    train = build([recs["a"], recs["s"]], tmp_path / "train", labels=fn)
    val = build([recs["s"], recs["b"]], labels=fn)  # spasms first: the old first-seen order gave it id 0
    assert train.features["label"].names == val.features["label"].names == ["absence", "spasms"]
    assert by_source(train)["spasms_a.edf"] == by_source(val)["spasms_a.edf"] == 1
    assert by_source(val)["absence_b.edf"] == 0
    _, schema = load_dataset_contract(tmp_path / "train")
    assert schema.names == ("absence", "spasms")
    assert json.loads((tmp_path / "train" / "label_schema.json").read_text()) == {"kind": "class",
                                                                                 "names": ["absence", "spasms"]}
    # an explicit order wins, and is saved
    explicit = build([recs["a"], recs["s"]], labels=fn, class_names="spasms,absence")
    assert explicit.features["label"].names == ["spasms", "absence"] and by_source(explicit)["spasms_a.edf"] == 0


def test_label_schema_reused_and_unknown_class_is_an_error(recs, tmp_path):
    train = tmp_path / "train"
    build([recs["a"], recs["s"]], train, labels=lambda p: "spasms" if "spasms" in p.name else "absence",
          class_names=["spasms", "absence"])  # fmt: skip
    # a later split that only has one of the classes keeps the train ids
    val = build([recs["b"]], labels=lambda p: "absence", label_schema=train)
    assert val.features["label"].names == ["spasms", "absence"] and val["label"] == [1, 1]
    # the schema file or a model directory's config.json work as well
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"id2label": {"0": "spasms", "1": "absence"}}))
    for source in (train / "label_schema.json", model):
        assert build([recs["b"]], labels=lambda p: "absence", label_schema=source)["label"] == [1, 1]
    with pytest.raises(DatasetBuildError, match=r"class 'seizure' .*absence_b\.edf.* not one of the known classes "
                                                r"\['spasms', 'absence'\]"):  # fmt: skip
        build([recs["b"]], labels=lambda p: "seizure", label_schema=train)
    with pytest.raises(DatasetBuildError, match="differ"):
        build([recs["b"]], labels=lambda p: "absence", label_schema=train, class_names=["absence", "spasms"])


def test_csv_integer_labels_and_mixed_kinds(recs, tmp_path):
    table = write_csv(tmp_path / "labels.csv", [["x/absence_a.edf", "1.0"], ["x/absence_b.edf", " 0.0 "],
                                                ["y/spasms_a.edf", "1"]])  # fmt: skip
    shutil.copytree(recs["root"] / "x", tmp_path / "x")
    shutil.copytree(recs["root"] / "y", tmp_path / "y")
    ds = build([tmp_path / "x", tmp_path / "y"], labels=f"csv:{table}")
    assert ds.features["label"] == datasets.Value("int64")
    assert by_source(ds) == {"absence_a.edf": 1, "absence_b.edf": 0, "spasms_a.edf": 1}
    mixed = write_csv(tmp_path / "mixed.csv", [["x/absence_a.edf", "wake"], ["x/absence_b.edf", "0"]])
    with pytest.raises(DatasetBuildError, match="mix class names and integers"):
        build(tmp_path / "x", labels=mixed)
    half = write_csv(tmp_path / "half.csv", [["x/absence_a.edf", "0.5"], ["x/absence_b.edf", "0"]])
    with pytest.raises(DatasetBuildError, match=r"half\.csv: line 2: label '0\.5' is a number but not an integer"):
        build(tmp_path / "x", labels=half)


def test_csv_bare_names_and_other_directories(recs):
    root = recs["root"]
    # a row naming x/absence_a.edf never labels z/absence_a.edf (the old lookup fell back to the bare name)
    table = write_csv(root / "dirs.csv", [["x/absence_a.edf", "wake"]])
    with pytest.raises(DatasetBuildError, match=r"z/absence_a\.edf: no label .*only with other directories"):
        build(recs["twin"], labels=table)
    assert build(recs["a"], labels=table)["label"] == [0, 0]
    # a bare name matches a file in any directory, but only one
    bare = write_csv(root / "bare.csv", [["absence_a.edf", "wake"], ["spasms_a.edf", "sleep"]])
    ds = build([recs["twin"], recs["s"]], labels=bare)
    assert ds.features["label"].names == ["sleep", "wake"] and by_source(ds) == {"absence_a.edf": 1,
                                                                                 "spasms_a.edf": 0}  # fmt: skip
    with pytest.raises(DatasetBuildError, match=r"bare\.csv: line 2 .*matches 2 input files"):
        build([recs["a"], recs["twin"]], labels=bare)
    # a bare name that also appears with a directory is ambiguous
    both = write_csv(root / "both.csv", [["absence_a.edf", "wake"], ["x/absence_a.edf", "sleep"]])
    with pytest.raises(DatasetBuildError, match=r"matches several rows .*line 2 .*line 3"):
        build(recs["twin"], labels=both)


def test_csv_duplicate_rows(recs):
    root = recs["root"]
    same = write_csv(root / "same.csv", [["x/absence_a.edf", "wake"], [str(recs["a"]), "wake"],
                                         ["./x/../x/absence_a.edf", "wake"]])  # fmt: skip
    assert build(recs["a"], labels=same)["label"] == [0, 0]  # identical duplicates are fine
    conflict = write_csv(root / "conflict.csv", [["x/absence_b.edf", "wake"], ["x/absence_a.edf", "wake"],
                                                 [str(recs["a"]), "sleep"]])  # fmt: skip
    with pytest.raises(DatasetBuildError, match=r"conflict\.csv: lines 3 and 4 give the same file .*absence_a\.edf "
                                                r"different labels \('wake' and 'sleep'\)"):  # fmt: skip
        build(recs["a"], labels=conflict)


def test_same_file_reached_twice_is_read_once(recs, tmp_path, monkeypatch):
    link = tmp_path / "link.edf"
    os.symlink(recs["s"], link)
    monkeypatch.chdir(recs["root"])
    ds = build([recs["root"] / "y", "y/spasms_a.edf", recs["s"], link, "y/../y/spasms_a.edf"])
    assert len(ds) == 2 and ds["start"] == [0.0, 10.0]


@pytest.fixture(scope="module")
def eyes_file(tmp_path_factory):
    """24 s with markers (duration 0): eyes open at 0 s, closed at 8 s, an unmapped 'photic' at 12 s, open at 16 s."""
    return export_crop("absence", tmp_path_factory.mktemp("eyes") / "eyes.edf", 1000, 1024,
                       annotations=[(0, 0, "eyes open"), (8, 0, "Eyes Closed"), (12, 0, "photic"),
                                    (16, 0, "eyes open")])  # fmt: skip


def test_marker_spans(eyes_file):
    label_map = {"eyes open": "open", "eyes closed": "closed"}
    ds = build(eyes_file, window_seconds=4, labels="annotations", label_map=label_map, markers="span")
    names = ds.features["label"].names
    assert names == ["closed", "open"]
    # each marker labels the time until the next mapped marker; the last one runs to the end of the recording
    assert [(s, names[k]) for s, k in zip(ds["start"], ds["label"])] == [
        (0.0, "open"), (4.0, "open"), (8.0, "closed"), (12.0, "closed"), (16.0, "open"), (20.0, "open")]  # fmt: skip
    # windows straddling a change follow the straddle rule over the spans
    ds = build(eyes_file, window_seconds=4, stride_seconds=2, labels="annotations", label_map=label_map,
               markers="span", straddle="drop")  # fmt: skip
    assert 6.0 not in ds["start"] and 14.0 not in ds["start"] and dict(zip(ds["start"], ds["label"]))[10.0] == 0


def test_no_windows_says_why(eyes_file, tmp_path):
    with pytest.raises(DatasetBuildError, match=r"no windows were produced: no annotation matched the label map "
                                                r"\['asleep'\]; descriptions found: 'eyes open' \(2\), "
                                                r"'Eyes Closed' \(1\), 'photic' \(1\)"):  # fmt: skip
        build(eyes_file, window_seconds=4, labels="annotations", label_map={"asleep": "sleep"})
    # point markers never cover half a window: the message says so and names the option
    with pytest.raises(DatasetBuildError, match=r"3 annotation\(s\) matched .*markers of duration 0") as info:
        build(eyes_file, window_seconds=4, labels="annotations", label_map={"eyes open": 0, "eyes closed": 1})
    assert "--markers span" in info.value.hint
    short = export_crop("absence", tmp_path / "short.edf", 300, 306)
    out = tmp_path / "never"
    with pytest.raises(DatasetBuildError, match=r"all 2 file\(s\) are shorter than one 8-s window"):
        build([short, export_crop("spasms", tmp_path / "short2.edf", 300, 307)], out, window_seconds=8,
              on_error="skip")  # fmt: skip
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["short.edf", "short2.edf"]
