"""`labram prepare` at scale (issue 9 §3-§4): --max-tokens window choice, bounded Parquet shards that StreamingCorpus
reads, a killed build that resumes from its finished file groups, --push-to-hub with --dry-run DIR. Inputs are crops
of the REAL sample recordings (21 channels, 24 s: two 10-s windows of ~170 KB each per file)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.data import build_dataset  # noqa: E402
from labram_hf.data import windows as windows_mod  # noqa: E402
from labram_hf.data._testing import EEGHDF_KNOWN, export_crop  # noqa: E402
from labram_hf.data.build import ChannelGroup, window_for_max_tokens  # noqa: E402
from labram_hf.data.shards import push_dataset_folder, shard_cache_dir  # noqa: E402
from labram_hf.data.streaming import StreamingCorpus, resolve_shards  # noqa: E402
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor  # noqa: E402
from labram_hf.montage import map_channels  # noqa: E402

SHARD = "500KB"  # two 10-s windows of 21 channels (2 x 168 KB) fit, three do not
N_FILES = 5


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale") / "rec"
    for k in range(N_FILES):
        export_crop("absence", root / f"a{k}.edf", 300 + 30 * k, 324 + 30 * k)
    return root


@pytest.fixture(scope="module")
def reference(rec, tmp_path_factory):
    """An uninterrupted sharded build (two processes) and the same windows as an Arrow dataset."""
    base = tmp_path_factory.mktemp("reference")
    assert cli.main(["prepare", str(rec), "-o", str(base / "shards"), "--shard-size", SHARD, "--num-proc", "2",
                     "-q"]) == 0  # fmt: skip
    assert cli.main(["prepare", str(rec), "-o", str(base / "arrow"), "-q"]) == 0
    return base / "shards", base / "arrow"


def _shard_bytes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "data").glob("*.parquet"))}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _counting(monkeypatch, stop_at: int | None = None) -> list[str]:
    """Count the files whose windows are computed; raise KeyboardInterrupt (a Ctrl-C) at file number ``stop_at``."""
    seen: list[str] = []
    original = windows_mod._window_examples

    def counted(path, label, opts, info):
        seen.append(Path(path).name)
        if stop_at is not None and len(seen) == stop_at:
            raise KeyboardInterrupt
        yield from original(path, label, opts, info)

    monkeypatch.setattr(windows_mod, "_window_examples", counted)
    return seen


def test_max_tokens_picks_the_window_from_the_channel_count(rec, tmp_path, capsys):
    out = tmp_path / "tokens"
    assert cli.main(["prepare", str(rec / "a0.edf"), str(rec / "a1.edf"), "-o", str(out), "--max-tokens", "256",
                     "-q"]) == 0  # fmt: skip
    assert "--max-tokens 256: 21 channels per window -> 12-s windows (252 tokens" in capsys.readouterr().out
    ds = datasets.load_from_disk(str(out))
    assert ds.features["input_values"].shape == (None, 2400) and len(ds) == 4 and ds["start"] == [0, 12] * 2
    settings = json.loads((out / "build_report.json").read_text())["settings"]
    assert (settings["max_tokens"], settings["channels_per_window"], settings["window_seconds"]) == (256, 21, 12.0)
    assert LaBraMFeatureExtractor.from_pretrained(str(out)).window_seconds == 12.0
    # the rule: floor(tokens / channels), at most 16 s, at least 1 s
    groups = [ChannelGroup(["x"], map_channels(["Fp1", "Fp2", "C3", "C4", "O1", "O2", "Cz", "Pz"]))]
    assert window_for_max_tokens(groups, 256) == (16, 8) and window_for_max_tokens(groups, 4) == (1, 8)


def test_max_tokens_errors(rec, tmp_path, capsys):
    out = tmp_path / "bad"
    assert cli.main(["prepare", str(rec), "-o", str(out), "--max-tokens", "256", "--window-seconds", "4"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    # files with 21 and 19 channels: one window length per dataset, so an error naming both counts
    few = tmp_path / "mixed"
    export_crop("absence", few / "few.edf", 300, 324, picks=EEGHDF_KNOWN[:19])
    (few / "a0.edf").write_bytes((rec / "a0.edf").read_bytes())
    assert cli.main(["prepare", str(few), "-o", str(out), "--max-tokens", "256", "-q"]) == 2
    err = capsys.readouterr().err
    assert "different numbers of channels (19 channels: 1 file(s), e.g. few.edf; 21 channels" in err
    assert "hint: prepare each montage into its own --output" in err and not out.exists()
    # the library call says the same
    with pytest.raises(ValueError, match="one window length"):
        build_dataset(few, None, max_tokens=256, progress=False)


def test_shards_are_bounded_ordered_and_streamable(reference):
    shards, arrow = reference
    manifest = json.loads((shards / "shards.json").read_text())
    sizes = [s["num_bytes"] for s in manifest["shards"]]
    assert manifest["num_rows"] == 10 and [s["num_rows"] for s in manifest["shards"]] == [2, 2, 2, 2, 2]
    assert all(300_000 < n <= 500_000 for n in sizes) and sizes == [p.stat().st_size for p in
                                                                    sorted((shards / "data").glob("*.parquet"))]  # fmt: skip
    assert [g["files"] for g in manifest["file_groups"]] == [2, 2, 1]  # ~500 KB of input per group
    report = json.loads((shards / "build_report.json").read_text())
    assert report["shards"]["files_processed"] == N_FILES and report["shards"]["file_groups_reused"] == 0
    assert not shard_cache_dir(shards).exists()
    # the rows are those of the Arrow build, in the same order, with the same features
    table = datasets.load_from_disk(str(arrow)).with_format("numpy")
    stream = datasets.load_dataset("parquet", data_dir=str(shards / "data"), split="train", streaming=True)
    assert stream.features == table.features
    rows = list(stream.with_format("numpy"))
    assert [(Path(r["source"]).name, float(r["start"])) for r in rows] == [
        (Path(s).name, float(t)) for s, t in zip(table["source"], table["start"])]  # fmt: skip
    for r, expected in zip(rows, table):
        np.testing.assert_array_equal(r["input_values"], expected["input_values"])
    # StreamingCorpus finds them through shards.json and yields every window once per epoch
    files, counts = resolve_shards(str(shards))
    assert counts == [2] * 5 and [Path(f).name for f in files] == sorted(_shard_bytes(shards))
    corpus = StreamingCorpus(str(shards), global_batch_size=2, shuffle_buffer=1, num_epochs=1)
    seen = sorted(row["input_values"].tobytes() for batch in corpus.iter_batches() for row in batch.rows)
    assert seen == sorted(np.asarray(v, dtype=np.float32).tobytes() for v in table["input_values"])


def test_killed_build_resumes_from_its_finished_file_groups(rec, reference, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    cache = shard_cache_dir(out)
    # a real kill: SIGKILL while the second file group is being built (its second file blocks)
    script = textwrap.dedent(f"""
        import sys, time
        from labram_hf.data import windows
        original, seen = windows._window_examples, []
        def slow(path, label, opts, info):
            seen.append(path)
            if len(seen) == 4:
                time.sleep(600)
            yield from original(path, label, opts, info)
        windows._window_examples = slow
        from labram_hf.cli import main
        sys.exit(main(["prepare", {str(rec)!r}, "-o", {str(out)!r}, "--shard-size", "{SHARD}", "-q"]))
    """)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not list(cache.glob("group-*/manifest.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the first file group never finished"
            time.sleep(0.2)
        time.sleep(0.5)  # inside the second group now (its first file takes a moment)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert not out.exists()
    assert [p.name[:11] for p in cache.iterdir() if (p / "manifest.json").is_file()] == ["group-00000"]
    assert any(".ds.partial-" in name for name in _leftovers(tmp_path))  # the killed run's work directory

    processed = _counting(monkeypatch)
    assert cli.main(["prepare", str(rec), "-o", str(out), "--shard-size", SHARD, "-q"]) == 0
    assert processed == ["a2.edf", "a3.edf", "a4.edf"]  # the first group (a0, a1) is not recomputed
    report = json.loads((out / "build_report.json").read_text())
    assert report["shards"]["file_groups_reused"] == 1 and report["shards"]["files_processed"] == 3
    assert [Path(r["file"]).name for r in report["files"]] == [f"a{k}.edf" for k in range(N_FILES)]
    assert report["windows"] == 10 and report["files_ok"] == N_FILES
    # byte for byte the shards of the uninterrupted two-process build; nothing left beside the output
    assert _shard_bytes(out) == _shard_bytes(reference[0])
    assert (out / "shards.json").read_text() == (reference[0] / "shards.json").read_text()
    assert _leftovers(tmp_path) == []


def test_a_changed_setting_invalidates_the_finished_groups(rec, reference, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    cache = shard_cache_dir(out)
    processed = _counting(monkeypatch, stop_at=3)  # Ctrl-C on the first file of the second group
    with pytest.raises(KeyboardInterrupt):
        build_dataset(rec, out, shard_size=SHARD, progress=False)
    assert processed == ["a0.edf", "a1.edf", "a2.edf"] and not out.exists()
    assert [p.name[:11] for p in cache.iterdir()] == ["group-00000"]  # finished group kept, partial one removed
    assert _leftovers(tmp_path) == [cache.name]

    processed = _counting(monkeypatch)
    assert cli.main(["prepare", str(rec), "-o", str(out), "--shard-size", SHARD, "--notch", "60", "-q"]) == 0
    assert processed == [f"a{k}.edf" for k in range(N_FILES)]  # a different notch: nothing reused
    report = json.loads((out / "build_report.json").read_text())
    assert report["shards"]["file_groups_reused"] == 0 and report["settings"]["notch"] == 60.0
    assert _shard_bytes(out).keys() == _shard_bytes(reference[0]).keys()
    assert not set(_shard_bytes(out).values()) & set(_shard_bytes(reference[0]).values())
    assert _leftovers(tmp_path) == []


def test_push_to_hub_dry_run_writes_the_exact_upload_folder(rec, reference, tmp_path, capsys):
    out, up = tmp_path / "ds", tmp_path / "upload"
    assert cli.main(["prepare", str(rec / "a0.edf"), str(rec / "a1.edf"), "-o", str(out), "--shard-size", SHARD,
                     "--push-to-hub", "my-org/eeg-windows", "--dry-run", str(up), "-q"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert f"dry run, nothing uploaded; upload folder for my-org/eeg-windows written to {up}" in text
    files = sorted(str(p.relative_to(up)) for p in up.rglob("*") if p.is_file() and p.name != ".labram-output")
    assert files == ["README.md", "channels.png", "data/train-00000-of-00002.parquet",
                     "data/train-00001-of-00002.parquet", "label_schema.json", "preprocessor_config.json",
                     "shards.json"]  # fmt: skip
    assert all(f"  {name}" in text for name in files)
    assert _shard_bytes(up) == _shard_bytes(out)
    # the same file group as the reference's first one: the same bytes, whatever the build around it
    assert list(_shard_bytes(out).values()) == list(_shard_bytes(reference[0]).values())[:2]
    card = (up / "README.md").read_text()
    assert card.startswith("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                           "    path: data/train-*")  # fmt: skip
    assert 'load_dataset("my-org/eeg-windows", split="train", streaming=True)' in card
    # the folder loads as the Hub would load the repository: the card's configs find the shards
    rows = list(datasets.load_dataset(str(up), split="train", streaming=True).with_format("numpy"))
    assert len(rows) == 4 and rows[0]["input_values"].shape == (21, 2000)
    # a real upload is refused offline before anything is built; --dry-run DIR needs --push-to-hub
    assert cli.main(["prepare", str(rec), "-o", str(tmp_path / "o2"), "--push-to-hub", "my-org/eeg-windows",
                     "-q"]) == 2  # fmt: skip
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    assert cli.main(["prepare", str(rec), "-o", str(tmp_path / "o2"), "--dry-run", str(up), "-q"]) == 2
    assert "upload folder of --push-to-hub" in capsys.readouterr().err
    assert cli.main(["prepare", str(rec), "-o", str(tmp_path / "o2"), "--push-to-hub", "not a repo", "-q"]) == 2
    assert "invalid --push-to-hub" in capsys.readouterr().err
    assert cli.main(["prepare", str(rec), "-o", str(tmp_path / "o2"), "--shard-size", "lots", "-q"]) == 2
    assert "shard size 'lots' is not a size" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_push_dataset_folder_uploads_a_dataset_repo(tmp_path):
    class RecordingApi:  # stands in for the live Hub only
        def __init__(self):
            self.calls = []

        def create_repo(self, **kwargs):
            self.calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs):
            self.calls.append(("upload_folder", kwargs))
            return type("Info", (), {"commit_url": "https://huggingface.co/datasets/o/n/commit/1"})()

    api = RecordingApi()
    url = push_dataset_folder(tmp_path, "o/n", private=True, api=api)
    assert url.endswith("/commit/1")
    (_, create), (_, upload) = api.calls
    assert create == {"repo_id": "o/n", "repo_type": "dataset", "private": True, "exist_ok": True}
    assert upload["repo_type"] == "dataset" and upload["folder_path"] == str(tmp_path)
    assert ".labram-output" in upload["ignore_patterns"]
