"""`labram prepare` never destroys anything (issue 8): outputs overlapping inputs, directories that appear during a
build, concurrent builds, stale work directories, --overwrite. Inputs are crops of the REAL sample recordings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.data import build_dataset  # noqa: E402
from labram_hf.data import windows as windows_mod  # noqa: E402
from labram_hf.data._testing import export_crop  # noqa: E402
from labram_hf.outputs import MARKER_FILE, OutputError  # noqa: E402


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    export_crop("absence", src / "rec" / "absence.edf", 300, 320)
    export_crop("spasms", src / "rec" / "spasms.edf", 300, 320)
    return src / "rec"


@pytest.fixture
def rec(recordings, tmp_path):
    """A private copy of the recordings plus an unrelated file, to check that nothing is touched."""
    d = tmp_path / "rec"
    d.mkdir()
    for f in recordings.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    (d / "notes.txt").write_text("keep me")
    return d


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name or p.name.endswith(".lock")]


def test_output_equal_to_input_refused(rec, capsys):
    before = _snapshot(rec)
    assert cli.main(["prepare", str(rec), "--output", str(rec), "--overwrite", "-q"]) == 2
    err = capsys.readouterr().err
    assert "labram prepare: error:" in err and "is the input" in err and "hint:" in err
    assert _snapshot(rec) == before and _leftovers(rec.parent) == []


def test_output_containing_inputs_refused(rec, capsys):
    before = _snapshot(rec)
    parent = rec.parent
    assert cli.main(["prepare", str(rec / "absence.edf"), "--output", str(parent), "--overwrite", "-q"]) == 2
    assert "contains the input" in capsys.readouterr().err
    # a glob's fixed directory counts as an input too
    assert cli.main(["prepare", str(rec / "*.edf"), "--output", str(rec), "--overwrite", "-q"]) == 2
    assert "input" in capsys.readouterr().err
    assert _snapshot(rec) == before and _leftovers(parent) == []


def test_directory_created_during_build_is_left_alone(rec, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    original = windows_mod._window_examples

    def meanwhile(path, label, opts, info):  # someone else creates the output while we compute
        if not out.exists():
            out.mkdir()
            (out / "theirs.txt").write_text("theirs")
        yield from original(path, label, opts, info)

    monkeypatch.setattr(windows_mod, "_window_examples", meanwhile)
    with pytest.raises(OutputError, match="created or changed by someone else"):
        build_dataset(rec, out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"] and (out / "theirs.txt").read_text() == "theirs"
    assert _leftovers(tmp_path) == []


def test_stale_work_dir_removed_and_overwrite_of_own_dataset(rec, tmp_path, capsys):
    out = tmp_path / "ds"
    stale = tmp_path / ".ds.partial-4194303-deadbeef"  # a pid above any pid_max in use: a dead process
    (stale / "cache").mkdir(parents=True)
    (stale / "cache" / "junk.arrow").write_bytes(b"x" * 100)
    assert cli.main(["prepare", str(rec), "-o", str(out), "-q"]) == 0
    assert not stale.exists() and (out / MARKER_FILE).is_file()
    assert len(datasets.load_from_disk(str(out))) == 4
    # without --overwrite an existing dataset is kept; with it, a dataset made by prepare is replaced
    assert cli.main(["prepare", str(rec), "-o", str(out), "-q", "--window-seconds", "5"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert cli.main(["prepare", str(rec), "-o", str(out), "-q", "--window-seconds", "5", "--overwrite"]) == 0
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 8 and ds.features["input_values"].shape == (None, 1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "rec"]


def test_concurrent_prepares_to_one_output(rec, tmp_path):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "labram_hf.cli", "prepare", str(rec), "--output", str(out), "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]  # fmt: skip
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "labram prepare: error:" in loser and "Traceback" not in loser
    assert "being written by another labram process" in loser or "not empty" in loser
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 4 and sorted({Path(s).name for s in ds["source"]}) == ["absence.edf", "spasms.edf"]
    assert _leftovers(tmp_path) == []
