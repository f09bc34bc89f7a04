"""`labram convert`: original .pth files -> HF directories that load with the Auto classes and reproduce the
reference fixtures; user mistakes are one line plus a hint (exit 2); unsafe pickles are refused unexecuted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from labram_hf.conversion import sha256sum
from transformers import (
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
)

import labram_hf
from labram_hf.cli import main as run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
ATOL = 1e-5




def load_fixture(name):
    return torch.load(FIXTURES / f"{name}.pt", weights_only=True)


def original_pth(tmp_path: Path, name: str) -> Path:
    """The fixture's original state dict as a training checkpoint: {"model": sd, "args": Namespace(...)}."""
    fixture = load_fixture(name)
    path = tmp_path / f"{name}.pth"
    args = argparse.Namespace(model="labram_base_patch200_200", lr=5e-4, epochs=50, nb_classes=3)
    torch.save({"model": fixture["state_dict"], "args": args, "epoch": 49}, path)
    return path


def inputs(fixture):
    return fixture["input"].flatten(2), fixture["input_chans"][1:] - 1


def assert_close(actual, expected, atol=ATOL):
    assert actual.shape == expected.shape
    diff = (actual.float() - expected.float()).abs().max().item()
    assert diff <= atol, diff


def assert_clean(info):
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert not info[key], (key, info[key])


def convert(tmp_path, name, *extra) -> tuple[Path, Path]:
    pth = original_pth(tmp_path, name)
    out = tmp_path / f"{name}-hf"
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(out), *extra]) == 0
    return pth, out


def check_files(out: Path, pth: Path, kind: str):
    for name in ("model.safetensors", "config.json", "configuration_labram.py", "modeling_labram.py",
                 "preprocessor_config.json", "conversion_info.json"):  # fmt: skip
        assert (out / name).is_file(), name
    info = json.loads((out / "conversion_info.json").read_text())
    assert info["source_sha256"] == sha256sum(pth)
    assert len(info["source_sha256"]) == 64
    assert info["kind"] == kind
    config = json.loads((out / "config.json").read_text())
    assert "AutoConfig" in config["auto_map"] and "AutoModel" in config["auto_map"]
    # encoders carry the pipelines' remote code (pipeline(task, model=out, trust_remote_code=True)); tokenizers not
    encoder = kind != "tokenizer"
    assert (out / "pipeline_labram.py").is_file() == encoder
    assert ("custom_pipelines" in config) == encoder
    if encoder:
        assert set(config["custom_pipelines"]) >= {"eeg-classification", "eeg-feature-extraction"}
        assert "AutoFeatureExtractor" in json.loads((out / "preprocessor_config.json").read_text())["auto_map"]


def test_convert_classifier(tmp_path):
    pth, out = convert(tmp_path, "finetune")
    check_files(out, pth, "classifier")
    fixture = load_fixture("finetune")
    x, ids = inputs(fixture)
    model, info = AutoModelForSequenceClassification.from_pretrained(out, output_loading_info=True)
    assert type(model) is labram_hf.LaBraMForSequenceClassification
    assert_clean(info)
    backbone = AutoModel.from_pretrained(out)
    assert type(backbone) is labram_hf.LaBraMModel
    specific, info = labram_hf.LaBraMForSequenceClassification.from_pretrained(out, output_loading_info=True)
    assert_clean(info)
    with torch.no_grad():
        assert_close(model.eval()(x, ids).logits, fixture["logits"])
        assert_close(specific.eval()(x, ids).logits, fixture["logits"])
        assert_close(backbone.eval()(x, ids).pooler_output, fixture["pooled"])


def test_convert_pretraining(tmp_path):
    pth, out = convert(tmp_path, "pretrain", "--kind", "pretraining")
    check_files(out, pth, "pretraining")
    fixture = load_fixture("pretrain")
    x, ids = inputs(fixture)
    model, info = AutoModelForPreTraining.from_pretrained(out, output_loading_info=True)
    assert type(model) is labram_hf.LaBraMForMaskedEEGModeling
    assert_clean(info)
    specific, info = labram_hf.LaBraMForMaskedEEGModeling.from_pretrained(out, output_loading_info=True)
    assert_clean(info)
    assert type(AutoModel.from_pretrained(out)) is labram_hf.LaBraMModel
    mask, labels = fixture["bool_masked_pos"], fixture["labels"]
    with torch.no_grad():
        for m in (model, specific):
            result = m.eval()(x, ids, bool_masked_pos=mask, labels=labels)
            assert_close(result.logits, fixture["logits_all"])
            assert_close(result.loss, fixture["loss"])


def test_convert_tokenizer(tmp_path):
    pth, out = convert(tmp_path, "tokenizer")
    check_files(out, pth, "tokenizer")
    fixture = load_fixture("tokenizer")
    x, ids = inputs(fixture)
    model, info = AutoModel.from_pretrained(out, output_loading_info=True)
    assert type(model) is labram_hf.LaBraMTokenizerModel
    assert_clean(info)
    specific, info = labram_hf.LaBraMTokenizerModel.from_pretrained(out, output_loading_info=True)
    assert_clean(info)
    with torch.no_grad():
        for m in (model, specific):
            result = m.eval()(x, ids)
            assert torch.equal(result.token_ids, fixture["tokens"])
            assert_close(result.amplitude_reconstruction, fixture["rec_amplitude"])


def _error_lines(capsys) -> list[str]:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return [line for line in captured.err.splitlines() if line.strip()]


def test_convert_errors(tmp_path, capsys):
    # missing file
    assert run_cli(["convert", "--checkpoint", str(tmp_path / "nope.pth"), "--output", str(tmp_path / "o")]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "not found" in lines[0] and lines[1].startswith("hint:")

    # a state dict that fits no kind
    odd = tmp_path / "odd.pth"
    torch.save({"encoder.weight": torch.zeros(3), "bias": torch.ones(2)}, odd)
    assert run_cli(["convert", "--checkpoint", str(odd), "--output", str(tmp_path / "o")]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "not an original LaBraM" in lines[0] and lines[1].startswith("hint:")
    assert not (tmp_path / "o").exists()

    # not a checkpoint at all
    junk = tmp_path / "junk.pth"
    junk.write_text("hello")
    assert run_cli(["convert", "--checkpoint", str(junk), "--output", str(tmp_path / "o")]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "junk.pth" in lines[0]

    # the wrong --kind for a valid file
    pth = original_pth(tmp_path, "finetune")
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(tmp_path / "o"), "--kind", "tokenizer"]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "--kind" in lines[1]

    # a non-empty output directory: refused; with --overwrite still refused, since labram did not write it
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(busy)]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "not empty" in lines[0] and "--overwrite" in lines[1]
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(busy), "--overwrite"]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "not written by labram" in lines[0]
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    # an earlier conversion is replaced with --overwrite
    done = tmp_path / "done"
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(done)]) == 0
    (done / "stale.txt").write_text("from an earlier run")
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(done)]) == 2
    assert run_cli(["convert", "--checkpoint", str(pth), "--output", str(done), "--overwrite"]) == 0
    assert (done / "model.safetensors").exists() and not (done / "stale.txt").exists()
    capsys.readouterr()


class _Payload:
    """Unpickling this object would create a marker file (if the loader ever executed it)."""

    marker: str = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_convert_refuses_arbitrary_pickle(tmp_path, capsys):
    marker = tmp_path / "EXECUTED"
    payload = _Payload()
    payload.marker = str(marker)
    evil = tmp_path / "evil.pth"
    sd = load_fixture("finetune")["state_dict"]
    torch.save({"model": sd, "extra": payload}, evil)
    assert not marker.exists()
    # torch itself refuses it in weights-only mode (and never runs it).
    with pytest.raises(Exception):
        torch.load(evil, weights_only=True)
    assert run_cli(["convert", "--checkpoint", str(evil), "--output", str(tmp_path / "o")]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 2 and "weights-only" in lines[0]
    assert not marker.exists(), "the pickle's payload was executed"
    assert not (tmp_path / "o").exists()
    # A custom class as the *whole* payload is refused the same way.
    pickle_path = tmp_path / "obj.pth"
    torch.save(payload, pickle_path)
    assert run_cli(["convert", "--checkpoint", str(pickle_path), "--output", str(tmp_path / "o")]) == 2
    _error_lines(capsys)
    assert not marker.exists()


def test_convert_help(capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(["convert", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--checkpoint", "--output", "--kind", "--num-heads", "--overwrite", "weights_only"):
        assert flag in out
