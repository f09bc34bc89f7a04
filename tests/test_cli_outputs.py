"""Outputs never destroy anything: `labram convert`, `push --dry-run`, `embed`, `predict` and `export-onnx` refuse
an output that is (or holds) one of their inputs, even with --overwrite, check the output before any work, write
beside the target and move into place (no partial files left), and create directories with normal permissions."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import torch

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import export_crop
from labram_hf.outputs import MARKER_FILE

FIXTURES = Path(__file__).parent / "fixtures" / "reference"


def digest(path: Path) -> str:
    if path.is_dir():
        parts = [p.name.encode() + digest(p).encode() for p in sorted(path.iterdir())]
        return hashlib.sha256(b"".join(parts)).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(argv, capsys, *needles):
    assert run_cli(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[1].startswith("hint:"), lines
    for needle in needles:
        assert needle in captured.err, (needle, captured.err)


def normal_mode(path: Path) -> bool:
    umask = os.umask(0)
    os.umask(umask)
    return stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask


def no_leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".partial-" in p.name or p.name.endswith(".lock")]


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outputs")
    fixture = torch.load(FIXTURES / "finetune.pt", weights_only=True)
    work = tmp / "work"
    work.mkdir()
    torch.save({"model": fixture["state_dict"]}, work / "finetune.pth")
    return work


def test_convert_never_replaces_its_checkpoint(checkpoint_dir, tmp_path, capsys):
    pth = checkpoint_dir / "finetune.pth"
    before = digest(checkpoint_dir)
    refused(["convert", "--checkpoint", str(pth), "--output", str(checkpoint_dir), "--overwrite"], capsys,
            "contains the input")  # fmt: skip
    refused(["convert", "--checkpoint", str(pth), "--output", str(pth), "--overwrite"], capsys, "is the input")
    refused(["convert", "--checkpoint", str(pth), "--output", str(pth / "sub"), "--overwrite"], capsys,
            "which is a file")  # fmt: skip
    assert digest(checkpoint_dir) == before
    out = tmp_path / "hf"
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(out)]) == 0
    assert normal_mode(out), oct(out.stat().st_mode)  # not mkdtemp's 0700
    assert (out / MARKER_FILE).is_file() and (out / "feature_extraction_labram.py").is_file()
    assert no_leftovers(tmp_path) == []
    capsys.readouterr()


def test_push_dry_run_never_replaces_the_model(checkpoint_dir, tmp_path, capsys):
    model_dir = tmp_path / "models" / "m"
    assert run_cli(["convert", "--checkpoint", str(checkpoint_dir / "finetune.pth"), "--output", str(model_dir)]) == 0
    before = digest(model_dir)
    for target in (tmp_path / "models", model_dir):
        refused(["push", str(model_dir), "--repo-id", "org/m", "--dry-run", str(target), "--overwrite"], capsys,
                "the input")  # fmt: skip
    assert digest(model_dir) == before
    upload = tmp_path / "upload"
    assert run_cli(["push", str(model_dir), "--repo-id", "org/m", "--dry-run", str(upload)]) == 0
    assert normal_mode(upload), oct(upload.stat().st_mode)
    assert no_leftovers(tmp_path) == []
    # an earlier dry run may be replaced with --overwrite, a foreign directory may not
    assert run_cli(["push", str(model_dir), "--repo-id", "org/m", "--dry-run", str(upload), "--overwrite"]) == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused(["push", str(model_dir), "--repo-id", "org/m", "--dry-run", str(foreign), "--overwrite"], capsys,
            "not written by labram")  # fmt: skip
    assert (foreign / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=2)
    model = labram_hf.LaBraMForSequenceClassification(config)
    model.save_pretrained(tmp / "model")
    labram_hf.LaBraMFeatureExtractor().save_pretrained(tmp / "model")
    edf = export_crop("absence", tmp / "rec.edf", 1000.0, 1011.0)
    return tmp / "model", edf


def test_inference_outputs_never_replace_inputs(tiny, tmp_path, capsys):
    model_dir, edf = tiny
    before = (digest(model_dir), digest(edf))
    for task in ("embed", "predict"):
        refused([task, str(edf), "--model", str(model_dir), "-o", str(edf), "--overwrite"], capsys, "is the input")
        refused([task, str(edf), "--model", str(model_dir), "-o", str(model_dir / "model.safetensors"),
                 "--overwrite"], capsys, "is the input")  # fmt: skip
        refused([task, str(edf), "--model", str(model_dir), "-o", str(model_dir)], capsys, "is the input")
        refused([task, str(edf), "--model", str(model_dir), "-o", str(tmp_path)], capsys, "is a directory")
        refused([task, str(edf), "--model", str(model_dir), "-o", str(edf / "x.out")], capsys, "which is a file")
    refused(["export-onnx", str(model_dir), str(edf / "m.onnx")], capsys, "which is a file")
    (model_dir / "old.onnx").write_bytes(b"an earlier export the user keeps with the model")
    refused(["export-onnx", str(model_dir), str(model_dir / "old.onnx"), "--overwrite"], capsys, "is the input")
    (model_dir / "old.onnx").unlink()
    assert (digest(model_dir), digest(edf)) == before


def test_inference_outputs_are_atomic(tiny, tmp_path, capsys):
    model_dir, edf = tiny
    out = tmp_path / "pred.csv"
    assert run_cli(["predict", str(edf), "--model", str(model_dir), "-o", str(out), "-q"]) == 0
    first = out.read_text()
    assert first.startswith("source,start,end,label")
    assert no_leftovers(tmp_path) == []
    refused(["predict", str(edf), "--model", str(model_dir), "-o", str(out)], capsys, "--overwrite")
    # a run that fails after the checks leaves the existing file as it was, and no partial file
    refused(["predict", str(edf), "--model", str(model_dir), "-o", str(out), "--overwrite", "--window-seconds",
             "20"], capsys, "longer than the model accepts")  # fmt: skip
    assert out.read_text() == first and no_leftovers(tmp_path) == []
    onnx_out = tmp_path / "m.onnx"
    assert run_cli(["export-onnx", str(model_dir), str(onnx_out), "--no-check"]) == 0
    assert onnx_out.stat().st_size > 10_000 and no_leftovers(tmp_path) == []
    refused(["export-onnx", str(model_dir), str(onnx_out)], capsys, "--overwrite")
    capsys.readouterr()
