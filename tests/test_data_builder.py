"""Tests for labram_hf.data.builder on crops of the REAL sample recordings (exported to EDF with mne)."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

datasets = pytest.importorskip("datasets")

from labram_hf.data import builder as builder_mod  # noqa: E402
from labram_hf.data import windows as windows_mod  # noqa: E402
from labram_hf.data import (  # noqa: E402
    ArrowWindowDataset,
    DatasetBuildError,
    LaBraMDataCollator,
    build_dataset,
    iter_dataset,
    window_label,
)
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.outputs import OutputError  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two 30-s crops of the absence recording and one of the spasms recording, 200 Hz, 21 known electrodes."""
    root = tmp_path_factory.mktemp("corpus")
    export_crop("absence", root / "sub01" / "absence_a.edf", 100, 130)
    export_crop("absence", root / "sub01" / "absence_b.edf", 600, 630)
    export_crop("spasms", root / "sub02" / "spasms_a.edf", 100, 130)
    (root / "notes.txt").write_text("not EEG")
    return root


@pytest.fixture(scope="module")
def sleep_file(tmp_path_factory):
    """40 s of the absence recording around the real 'awakened pt' transition (898.8 s), with span annotations."""
    root = tmp_path_factory.mktemp("sleep")
    return export_crop(
        "absence", root / "sleepwake.edf", 880, 920, annotations=[(0, 18.8, "Asleep"), (18.8, 21.2, "awake")]
    )


def _no_partials(parent: Path):
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_build_directory_roundtrip(corpus, tmp_path):
    out = tmp_path / "ds"
    ds = build_dataset(corpus, out, progress=False)
    assert len(ds) == 9  # 3 files x 30 s / 10 s
    assert set(ds.column_names) == {"input_values", "channel_ids", "source", "start"}
    assert ds.features["input_values"].shape == (None, 2000)
    loaded = datasets.load_from_disk(str(out))
    row = loaded.with_format("torch")[0]
    assert row["input_values"].dtype == torch.float32 and row["input_values"].shape == (21, 2000)
    assert row["channel_ids"].dtype == torch.int64 and row["channel_ids"].shape == (21,)
    assert loaded["start"][:3] == [0.0, 10.0, 20.0]
    assert Path(loaded["source"][0]).name == "absence_a.edf"
    # model units: microvolts / 100, real EEG is tens of microvolts
    std = float(row["input_values"].std())
    assert 0.01 < std < 10
    report = json.loads((out / "build_report.json").read_text())
    assert report["files_ok"] == 3 and report["windows"] == 9
    assert _no_partials(tmp_path) == []


def test_glob_and_stride(corpus):
    ds = build_dataset(str(corpus / "sub01" / "*.edf"), None, window_seconds=4, stride_seconds=2, progress=False)
    assert len(ds) == 2 * ((30 - 4) // 2 + 1)
    assert ds["input_values"][0].__len__() == 21
    assert np.asarray(ds[0]["input_values"]).shape == (21, 800)
    np.testing.assert_allclose(ds["start"][:3], [0.0, 2.0, 4.0])


def test_windows_match_preprocessing(corpus):
    from labram_hf.preprocessing import preprocess_file

    f = corpus / "sub02" / "spasms_a.edf"
    ds = build_dataset(f, None, window_seconds=5, progress=False)
    pre = preprocess_file(f)
    np.testing.assert_array_equal(np.asarray(ds[1]["input_values"], np.float32), pre.values[:, 1000:2000])
    assert ds[1]["channel_ids"] == pre.channel_ids


def test_per_file_labels_function_and_csv(corpus, tmp_path):
    ds = build_dataset(corpus, None, labels=lambda p: "absence" if "absence" in p.name else "spasms", progress=False)
    assert ds.features["label"].names == ["absence", "spasms"]
    assert ds["label"] == [0] * 6 + [1] * 3
    table = tmp_path / "labels.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerow([str(corpus / "sub01" / "absence_a.edf"), 1])
        w.writerow(["absence_b.edf", 0])  # bare file name
        w.writerow([str(corpus / "sub02" / "spasms_a.edf"), 1])
    ds = build_dataset(corpus, None, labels=f"csv:{table}", progress=False)
    assert ds.features["label"] == datasets.Value("int64")
    assert ds["label"] == [1] * 3 + [0] * 3 + [1] * 3


def test_csv_missing_file_fails_or_skips(corpus, tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text(f"path,label\n{corpus / 'sub01' / 'absence_a.edf'},yes\n")
    with pytest.raises(DatasetBuildError, match=r"absence_b\.edf: no label"):
        build_dataset(corpus, None, labels=table, progress=False)
    out = tmp_path / "ds"
    ds = build_dataset(corpus, out, labels=table, on_error="skip", progress=False)
    assert len(ds) == 3
    rows = list(csv.DictReader(open(out / "skipped_files.csv")))
    assert {Path(r["file"]).name for r in rows} == {"absence_b.edf", "spasms_a.edf"}
    assert all("no label" in r["reason"] for r in rows)


def test_window_label_rules():
    ev = [(0.0, 18.8, 0), (18.8, 40.0, 1)]
    assert window_label(16, 20, ev, straddle="majority") == 0
    assert window_label(16, 20, ev, straddle="drop") is None
    assert window_label(16, 20, ev, straddle="any") == 0
    assert window_label(18, 22, ev, straddle="majority") == 1
    assert window_label(40, 44, ev, straddle="majority") is None
    assert window_label(40, 44, ev, straddle="majority", background=2) == 2
    assert window_label(40, 44, ev, straddle="drop", background=2) == 2
    assert window_label(40, 44, [(41.0, 41.0, 1)], straddle="any") == 1  # point event
    assert window_label(0, 4, [(0.0, 1.0, 0)], straddle="majority", background=1) == 1


@pytest.mark.parametrize(
    "straddle, expected",
    [("majority", ["sleep"] * 5 + ["wake"] * 5), ("drop", ["sleep"] * 4 + ["wake"] * 5),
     ("any", ["sleep"] * 5 + ["wake"] * 5)],
)  # fmt: skip
def test_annotation_labels(sleep_file, straddle, expected):
    ds = build_dataset(sleep_file, None, window_seconds=4, labels="annotations",
                       label_map={"asleep": "sleep", "AWAKE": "wake"}, straddle=straddle, progress=False)  # fmt: skip
    names = ds.features["label"].names
    assert names == ["sleep", "wake"]
    assert [names[i] for i in ds["label"]] == expected
    if straddle == "drop":
        assert 16.0 not in ds["start"]


def test_annotation_label_map_from_json_file(sleep_file, tmp_path):
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"asleep": 1, "awake": 0}))
    ds = build_dataset(sleep_file, None, window_seconds=10, labels="annotations", label_map=str(mapping),
                       progress=False)  # fmt: skip
    assert ds["label"] == [1, 1, 0, 0]
    with pytest.raises(DatasetBuildError, match="label map"):
        build_dataset(sleep_file, None, labels="annotations", progress=False)


def test_num_proc_matches_single_process(corpus, tmp_path):
    one = build_dataset(corpus, tmp_path / "one", progress=False)
    two = build_dataset(corpus, tmp_path / "two", num_proc=2, progress=False)
    assert one["source"] == two["source"] and one["start"] == two["start"]
    np.testing.assert_array_equal(np.asarray(one[8]["input_values"]), np.asarray(two[8]["input_values"]))
    # zero-copy batched view over a multi-chunk table gives the same rows
    loaded = datasets.load_from_disk(str(tmp_path / "two"))
    rows = ArrowWindowDataset(loaded).__getitems__([8, 0, 4])
    for r, i in zip(rows, [8, 0, 4]):
        np.testing.assert_array_equal(r["input_values"], np.asarray(one[i]["input_values"], np.float32))
        assert r["channel_ids"].tolist() == one[i]["channel_ids"]


def test_streaming_matches(corpus):
    built = build_dataset(corpus, None, progress=False)
    stream = iter_dataset(corpus)
    assert isinstance(stream, datasets.IterableDataset)
    rows = list(stream)
    assert len(rows) == len(built)
    np.testing.assert_array_equal(np.asarray(rows[4]["input_values"]), np.asarray(built[4]["input_values"]))
    batch = next(iter(torch.utils.data.DataLoader(stream.with_format("torch"), batch_size=3,
                                                  collate_fn=LaBraMDataCollator())))  # fmt: skip
    assert batch["input_values"].shape == (3, 21, 2000)


def test_arrow_window_dataset_loader(corpus, tmp_path):
    ds = build_dataset(corpus, tmp_path / "ds", labels=lambda p: int("spasms" in p.name), progress=False)
    view = ArrowWindowDataset(ds)
    loader = torch.utils.data.DataLoader(view, batch_size=4, shuffle=False, collate_fn=LaBraMDataCollator())
    batches = list(loader)
    assert [b["input_values"].shape[0] for b in batches] == [4, 4, 1]
    ref = ds.with_format("torch")
    torch.testing.assert_close(batches[1]["input_values"][2], ref[6]["input_values"])
    assert batches[2]["labels"].tolist() == [1]
    # picklable by reference (DataLoader workers), not by value
    import pickle

    blob = pickle.dumps(view)
    assert len(blob) < 200_000
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone[3]["input_values"], view[3]["input_values"])
    # several Arrow chunks (concatenated datasets)
    both = datasets.concatenate_datasets([ds, ds])
    assert both.data.column("input_values").num_chunks == 2
    got = ArrowWindowDataset(both).__getitems__([10, 1])
    np.testing.assert_array_equal(got[0]["input_values"], np.asarray(ds[1]["input_values"], np.float32))
    assert got[0]["labels"] == ds[1]["label"]
    # a shuffled / selected dataset keeps its indices mapping
    sub = ds.select([8, 0])
    got = ArrowWindowDataset(sub).__getitems__([0, 1])
    np.testing.assert_array_equal(got[0]["input_values"], np.asarray(ds[8]["input_values"], np.float32))


def test_output_not_empty_and_overwrite(corpus, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        build_dataset(corpus / "sub02", out, progress=False)
    # --overwrite never replaces a directory labram-hf did not make
    with pytest.raises(OutputError, match="not written by labram"):
        build_dataset(corpus / "sub02", out, overwrite=True, progress=False)
    assert (out / "keep.txt").read_text() == "x"
    fresh = tmp_path / "fresh"
    build_dataset(corpus / "sub01", fresh, progress=False)
    ds = build_dataset(corpus / "sub02", fresh, overwrite=True, progress=False)
    assert len(ds) == 3 and {Path(s).name for s in ds["source"]} == {"spasms_a.edf"}
    assert _no_partials(tmp_path) == []


def test_interrupted_build_leaves_nothing(corpus, tmp_path, monkeypatch):
    original = windows_mod._window_examples
    calls = {"n": 0}

    def flaky(path, label, opts, info):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        yield from original(path, label, opts, info)

    monkeypatch.setattr(windows_mod, "_window_examples", flaky)
    out = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        build_dataset(corpus, out, progress=False)
    assert not out.exists()
    assert _no_partials(tmp_path) == []


def test_skip_reports_bad_file(corpus, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in (corpus / "sub01").glob("*.edf"):
        (src / f.name).write_bytes(f.read_bytes())
    bad = src / "broken.edf"
    bad.write_bytes((corpus / "sub02" / "spasms_a.edf").read_bytes()[:300])
    out = tmp_path / "ds"
    with pytest.raises(DatasetBuildError, match=r"broken\.edf"):
        build_dataset(src, out, progress=False)
    assert not out.exists() and _no_partials(tmp_path) == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = build_dataset(src, out, on_error="skip", num_proc=2, progress=False)
    assert len(ds) == 6
    rows = list(csv.DictReader(open(out / "skipped_files.csv")))
    assert [Path(r["file"]).name for r in rows] == ["broken.edf"]
    assert "broken.edf" in rows[0]["reason"]
    report = json.loads((out / "build_report.json").read_text())
    assert report["files_skipped"] == 1 and report["skipped"][0]["file"].endswith("broken.edf")


def test_benchmark_smoke(tmp_path):
    """benchmarks/data_throughput.py runs end to end with tiny settings (not a performance assertion)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data_throughput.py"
    spec = importlib.util.spec_from_file_location("data_throughput", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "bench.json"
    result = mod.main(["--tiny", "--output", str(out), "--num-proc", "1"])
    saved = json.loads(out.read_text())
    assert saved["corpus"]["windows"] == result["corpus"]["windows"] == 12
    assert saved["machine"]["cpu_count"] >= 1 and "torch" in saved["machine"]
    assert saved["loading"]["arrow_batched_windows_per_s"] > 0
    assert saved["preprocessing"]["max_abs_diff_uV_first_window"] < 1e-2
    assert saved["saving"]["save_to_disk_seconds"] > 0 and saved["saving"]["limit"] == 0.2


def test_balanced_contiguous_shards():
    bounds = builder_mod._balanced_bounds
    # 8 short TUH-sized files then two 30-min recordings: the large files are not put together with many others
    assert bounds([5] * 8 + [25, 31], 2) == [(0, 8), (8, 10)]
    assert bounds([1] * 5, 2) == [(0, 3), (3, 5)]
    assert bounds([30, 1, 1, 1], 2) == [(0, 1), (1, 4)]
    assert bounds([7], 3) == [(0, 1)]
    for sizes, parts in (([1, 100, 1, 1], 3), ([3, 1, 4, 1, 5, 9, 2, 6], 4)):
        got = bounds(sizes, parts)
        assert got[0][0] == 0 and got[-1][1] == len(sizes) and all(a < b for a, b in got)
        assert all(got[i][1] == got[i + 1][0] for i in range(len(got) - 1))


def test_saved_with_public_api_and_nothing_left_behind(corpus, tmp_path):
    """save_to_disk layout, the Arrow cache of from_generator removed, the contract files beside the data."""
    out = tmp_path / "ds2"
    ds = build_dataset(corpus, out, num_proc=2, progress=False)
    state = json.loads((out / "state.json").read_text())
    assert [f["filename"] for f in state["_data_files"]] == ["data-00000-of-00001.arrow"]
    assert json.loads((out / "dataset_info.json").read_text())["features"]["input_values"]["shape"] == [None, 2000]
    names = {p.name for p in out.iterdir()}
    assert {".labram-output", "build_report.json", "data-00000-of-00001.arrow", "dataset_info.json",
            "label_schema.json", "preprocessor_config.json", "state.json"} <= names  # fmt: skip
    assert [p.name for p in out.iterdir() if p.is_dir()] == []  # no Arrow cache / report scratch left inside
    assert {n for n in names if n.endswith(".arrow")} == {"data-00000-of-00001.arrow"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds2"]  # no work dir, lock or cache beside it
    loaded = datasets.load_from_disk(str(out))
    assert len(loaded) == len(ds) == 9 and loaded.features == ds.features
    assert [Path(s).name for s in loaded["source"]][::3] == ["absence_a.edf", "absence_b.edf", "spasms_a.edf"]
