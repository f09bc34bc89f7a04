"""ONNX export: one file with dynamic batch/channel/time axes matches PyTorch (onnxruntime, CPU) within 1e-4 at
two different input shapes, for the classifier (logits) and the backbone (pooler_output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from labram_hf.conversion import convert_checkpoint

import labram_hf
from labram_hf.cli import main as run_cli

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
SHAPES = [(2, 19, 3), (3, 7, 5)]  # (batch, channels, patches): the export example is (2, 19, 4)




@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onnx")
    fixture = torch.load(FIXTURES / "finetune.pt", weights_only=True)
    pth = tmp / "finetune.pth"
    torch.save({"model": fixture["state_dict"]}, pth)
    return convert_checkpoint(pth, tmp / "classifier")


def _inputs(batch, channels, patches, seed):
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(batch, channels, patches * 200, generator=g)
    ids = torch.stack([torch.randperm(128, generator=g)[:channels] for _ in range(batch)])
    return values, ids


def _check(onnx_path: Path, reference, output_name: str):
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input_values", "channel_ids"]
    assert [o.name for o in model.graph.output] == [output_name]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert all(isinstance(d, str) for d in dims[0]), dims  # batch, channels, time all symbolic
    assert all(isinstance(d, str) for d in dims[1]), dims
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for seed, shape in enumerate(SHAPES):
        values, ids = _inputs(*shape, seed)
        with torch.no_grad():
            expected = reference(values, ids).numpy()
        actual = session.run(None, {"input_values": values.numpy(), "channel_ids": ids.numpy()})[0]
        assert actual.shape == expected.shape
        assert np.abs(actual - expected).max() <= 1e-4, (shape, np.abs(actual - expected).max())


def test_export_classifier_logits(classifier_dir, tmp_path, capsys):
    out = tmp_path / "classifier.onnx"
    assert run_cli(["export-onnx", str(classifier_dir), str(out)]) == 0
    assert "max |diff|" in capsys.readouterr().out
    model = labram_hf.LaBraMForSequenceClassification.from_pretrained(classifier_dir).eval()
    _check(out, lambda v, i: model(v, i).logits, "logits")
    # the fixture itself, through ONNX
    fixture = torch.load(FIXTURES / "finetune.pt", weights_only=True)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input_values": fixture["input"].flatten(2).numpy(),
                                "channel_ids": (fixture["input_chans"][1:] - 1).repeat(2, 1).numpy()})[0]  # fmt: skip
    assert np.abs(logits - fixture["logits"].numpy()).max() <= 1e-4


def test_export_backbone_pooler_output(classifier_dir, tmp_path):
    out = tmp_path / "backbone.onnx"
    assert run_cli(["export-onnx", str(classifier_dir), str(out), "--output", "pooler_output", "--no-check"]) == 0
    model = labram_hf.LaBraMModel.from_pretrained(classifier_dir).eval()
    _check(out, lambda v, i: model(v, i).pooler_output, "pooler_output")


def test_export_dynamo(classifier_dir, tmp_path):
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (not a labram-hf dependency)")
    from labram_hf.onnx_export import export_onnx

    out = export_onnx(classifier_dir, tmp_path / "dynamo.onnx", exporter="dynamo")
    model = labram_hf.LaBraMForSequenceClassification.from_pretrained(classifier_dir).eval()
    _check(out, lambda v, i: model(v, i).logits, "logits")


def test_export_errors(classifier_dir, tmp_path, capsys):
    assert run_cli(["export-onnx", str(tmp_path / "missing"), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "no config.json" in err and "hint:" in err and "Traceback" not in err
    backbone = tmp_path / "backbone"
    labram_hf.LaBraMModel.from_pretrained(classifier_dir).save_pretrained(backbone)
    assert run_cli(["export-onnx", str(backbone), str(tmp_path / "m.onnx"), "--output", "logits"]) == 2
    err = capsys.readouterr().err
    assert "not a fine-tuned classifier" in err and "pooler_output" in err
    existing = tmp_path / "exists.onnx"
    existing.write_text("x")
    assert run_cli(["export-onnx", str(classifier_dir), str(existing)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli(["export-onnx", "--help"])
    help_text = capsys.readouterr().out
    assert "--exporter" in help_text and "dynamic" in help_text
