"""Publishing and loading by repo id, as users will.

`labram push --dry-run` writes the upload folder; it is laid out as a Hugging Face cache snapshot of
`org/labram-base` and loaded in FRESH subprocesses with HF_HUB_OFFLINE=1: (a) with `trust_remote_code=True` where
labram_hf cannot be imported (checked: ModuleNotFoundError), (b) after `import labram_hf` without remote code.
Both reproduce the in-process outputs. Local `save_pretrained` directories of every model class load with
`trust_remote_code=True` in such a subprocess too. The real upload is tested with a mocked HfApi only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from unittest import mock

import pytest
import torch
from labram_hf.conversion import convert_checkpoint

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.hub import UPLOAD_FILES
from labram_hf.outputs import MARKER_FILE

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
REPO_ID = "org/labram-base"
COMMIT = "0123456789abcdef0123456789abcdef01234567"




def fixture_inputs(name="finetune"):
    fixture = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
    return fixture, fixture["input"].flatten(2), fixture["input_chans"][1:] - 1


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    out = {}
    for name in ("finetune", "pretrain", "tokenizer"):
        fixture = torch.load(FIXTURES / f"{name}.pt", weights_only=True)
        torch.save({"model": fixture["state_dict"]}, tmp / f"{name}.pth")
        out[name] = convert_checkpoint(tmp / f"{name}.pth", tmp / f"{name}-hf")
    return out


def make_cache(folder: Path, cache: Path, repo_id: str = REPO_ID) -> Path:
    """Lay `folder` out as the HF cache of `repo_id`: blobs named by content hash, snapshot symlinks, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        shutil.copyfile(path, repo / "blobs" / digest)
        (snapshot / path.name).symlink_to(Path("..", "..", "blobs", digest))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


def run_fresh(script: str, tmp: Path, hf_home: Path, importable: bool) -> subprocess.CompletedProcess:
    """Run `script` in a fresh interpreter, offline, from an empty cwd.

    importable=False: `python -I -S` (no site processing, so the editable-install finder of labram_hf is never
    installed) with only the venv's site-packages on sys.path: transformers and torch import, labram_hf does not.
    """
    cwd = tmp / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(hf_home), HF_HUB_CACHE=str(hf_home / "hub"), HF_HUB_OFFLINE="1",
               HF_MODULES_CACHE=str(hf_home / "modules"), TOKENIZERS_PARALLELISM="false")  # fmt: skip
    if importable:
        cmd = [sys.executable, "-c", script]
    else:
        site = sysconfig.get_paths()["purelib"]
        prologue = f"import sys; sys.path.append({site!r})\n"
        cmd = [sys.executable, "-I", "-S", "-c", prologue + script]
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


NOT_IMPORTABLE = """
try:
    import labram_hf
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("labram_hf is importable in the isolated subprocess: " + labram_hf.__file__)
"""


def test_push_dry_run_folder(converted, tmp_path, capsys):
    out = tmp_path / "upload"
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"dataset": "synthetic reference fixture", "metrics": {"accuracy": 0.5}}))
    assert run_cli(["push", str(converted["finetune"]), "--repo-id", REPO_ID, "--dry-run", str(out),
                    "--metadata", str(meta), "--base-model", "org/labram-pretrained"]) == 0  # fmt: skip
    assert "nothing uploaded" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER_FILE) == sorted(UPLOAD_FILES)
    assert (out / MARKER_FILE).is_file()  # labram's own marker: a later --overwrite may replace this folder
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_labram.LaBraMConfig",
        "AutoModel": "modeling_labram.LaBraMModel",
        "AutoModelForSequenceClassification": "modeling_labram.LaBraMForSequenceClassification",
        "AutoModelForPreTraining": "modeling_labram.LaBraMForMaskedEEGModeling",
    }
    card = (out / "README.md").read_text()
    info = json.loads((converted["finetune"] / "conversion_info.json").read_text())
    assert info["source_sha256"] in card and "base_model: org/labram-pretrained" in card
    assert "synthetic reference fixture" in card
    modeling = Path(labram_hf.__file__).parent.parent / "modeling"
    assert (out / "modeling_labram.py").read_bytes() == (modeling / "modeling_labram.py").read_bytes()
    # errors: non-empty target, bad repo id, not a model directory
    assert run_cli(["push", str(converted["finetune"]), "--repo-id", REPO_ID, "--dry-run", str(out)]) == 2
    assert run_cli(["push", str(converted["finetune"]), "--repo-id", "bad id!", "--dry-run", str(tmp_path / "x")]) == 2
    assert run_cli(["push", str(tmp_path), "--repo-id", REPO_ID, "--dry-run", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.count("hint:") == 3 and "Traceback" not in err


def test_load_by_repo_id(converted, tmp_path):
    upload = tmp_path / "upload"
    assert run_cli(["push", str(converted["finetune"]), "--repo-id", REPO_ID, "--dry-run", str(upload)]) == 0
    hf_home = tmp_path / "hf_home"
    make_cache(upload, hf_home / "hub")
    fixture, values, ids = fixture_inputs()
    torch.save({"values": values, "ids": ids}, tmp_path / "inputs.pt")

    remote = NOT_IMPORTABLE + textwrap.dedent(f"""
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        model = AutoModelForSequenceClassification.from_pretrained({REPO_ID!r}, trust_remote_code=True).eval()
        backbone = AutoModel.from_pretrained({REPO_ID!r}, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert type(backbone).__name__ == "LaBraMModel"
        with torch.no_grad():
            out = {{"logits": model(inputs["values"], inputs["ids"]).logits,
                    "pooled": backbone(inputs["values"], inputs["ids"]).pooler_output}}
        torch.save(out, {str(tmp_path / 'remote.pt')!r})
    """)
    run_fresh(remote, tmp_path, hf_home, importable=False)

    local = textwrap.dedent(f"""
        import torch, labram_hf
        from transformers import AutoModel, AutoModelForSequenceClassification
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        model = AutoModelForSequenceClassification.from_pretrained({REPO_ID!r}).eval()
        backbone = AutoModel.from_pretrained({REPO_ID!r}).eval()
        assert type(model) is labram_hf.LaBraMForSequenceClassification, type(model)
        assert type(backbone) is labram_hf.LaBraMModel
        with torch.no_grad():
            out = {{"logits": model(inputs["values"], inputs["ids"]).logits,
                    "pooled": backbone(inputs["values"], inputs["ids"]).pooler_output}}
        torch.save(out, {str(tmp_path / 'local.pt')!r})
    """)
    run_fresh(local, tmp_path, hf_home, importable=True)

    remote_out = torch.load(tmp_path / "remote.pt")
    local_out = torch.load(tmp_path / "local.pt")
    for key in ("logits", "pooled"):
        assert torch.equal(remote_out[key], local_out[key]), key
    assert (local_out["logits"] - fixture["logits"]).abs().max() <= 1e-5
    assert (local_out["pooled"] - fixture["pooled"]).abs().max() <= 1e-5


def test_local_dirs_with_remote_code(converted, tmp_path):
    """save_pretrained + from_pretrained(DIR, trust_remote_code=True) without labram_hf, for every model class."""
    classifier = labram_hf.LaBraMForSequenceClassification.from_pretrained(converted["finetune"]).eval()
    models = {
        "classifier": (classifier, "AutoModelForSequenceClassification"),
        "backbone": (classifier.labram, "AutoModel"),
        "pretraining": (labram_hf.LaBraMForMaskedEEGModeling.from_pretrained(converted["pretrain"]).eval(),
                        "AutoModelForPreTraining"),  # fmt: skip
        "tokenizer": (labram_hf.LaBraMTokenizerModel.from_pretrained(converted["tokenizer"]).eval(), "AutoModel"),
    }
    _, values, ids = fixture_inputs()
    mask = torch.load(FIXTURES / "pretrain.pt", weights_only=True)["bool_masked_pos"]
    expected, dirs = {}, {}
    with torch.no_grad():
        for name, (model, _) in models.items():
            dirs[name] = tmp_path / name
            model.save_pretrained(dirs[name])
            expected[name] = _output(name, model, values, ids, mask)
    torch.save({"values": values, "ids": ids, "mask": mask}, tmp_path / "inputs.pt")
    script = NOT_IMPORTABLE + textwrap.dedent(f"""
        import torch, transformers
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        values, ids, mask = inputs["values"], inputs["ids"], inputs["mask"]
        out = {{}}
        for name, (path, auto) in {({n: (str(dirs[n]), a) for n, (_, a) in models.items()})!r}.items():
            model = getattr(transformers, auto).from_pretrained(path, trust_remote_code=True).eval()
            assert type(model).__module__.startswith("transformers_modules"), (name, type(model).__module__)
            with torch.no_grad():
                if name == "classifier":
                    out[name] = model(values, ids).logits
                elif name == "backbone":
                    out[name] = model(values, ids).pooler_output
                elif name == "pretraining":
                    out[name] = model(values, ids, bool_masked_pos=mask).logits
                else:
                    out[name] = model.get_codebook_indices(values, ids)
            out[name + ".class"] = type(model).__name__
        torch.save(out, {str(tmp_path / 'out.pt')!r})
    """)
    run_fresh(script, tmp_path, tmp_path / "hf_home", importable=False)
    got = torch.load(tmp_path / "out.pt")
    for name, (model, _) in models.items():
        assert got[name + ".class"] == type(model).__name__
        assert torch.equal(got[name], expected[name]), name


def _output(name, model, values, ids, mask):
    if name == "classifier":
        return model(values, ids).logits
    if name == "backbone":
        return model(values, ids).pooler_output
    if name == "pretraining":
        return model(values, ids, bool_masked_pos=mask).logits
    return model.get_codebook_indices(values, ids)


def test_push_uploads_with_hf_api(converted, tmp_path, capsys, monkeypatch):
    """The upload path: create_repo + upload_folder of exactly the dry-run folder (HfApi mocked)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = {}

    def upload_folder(**kwargs):
        seen["files"] = sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())
        seen["kwargs"] = kwargs
        return mock.Mock(commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/abc")

    api = mock.Mock()
    api.upload_folder.side_effect = upload_folder
    with mock.patch("huggingface_hub.HfApi", return_value=api):
        assert run_cli(["push", str(converted["tokenizer"]), "--repo-id", "org/vqnsp", "--private",
                        "--commit-message", "first upload"]) == 0  # fmt: skip
    api.create_repo.assert_called_once_with(repo_id="org/vqnsp", repo_type="model", private=True, exist_ok=True)
    assert seen["files"] == sorted(UPLOAD_FILES)
    assert seen["kwargs"]["commit_message"] == "first upload" and seen["kwargs"]["repo_id"] == "org/vqnsp"
    assert "commit/abc" in capsys.readouterr().out

    api.upload_folder.side_effect = RuntimeError("401 Client Error: Unauthorized")
    with mock.patch("huggingface_hub.HfApi", return_value=api):
        assert run_cli(["push", str(converted["tokenizer"]), "--repo-id", "org/vqnsp"]) == 2
    err = capsys.readouterr().err
    assert "upload to org/vqnsp failed" in err and "hf auth login" in err and "Traceback" not in err

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert run_cli(["push", str(converted["tokenizer"]), "--repo-id", "org/vqnsp"]) == 2
    assert "--dry-run" in capsys.readouterr().err
