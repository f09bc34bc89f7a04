"""Every code block of the README is executed.

* `python` blocks run, in order, as one script in a fresh interpreter.
* `bash` blocks run line by line in a scratch directory that holds what their commands name: `recordings/` (EDF
  exports of the real sample recordings), `labram-base.pth` and `vqnsp.pth` (original-format checkpoints: the
  reference fixtures' state dicts, wrapped as the original training code saves them). Lines starting with `make`
  are the project's own entry points: CI runs `make test` itself and `tests/test_demo.py` runs the demo.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures" / "reference"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language):
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def test_readme_has_exactly_the_two_commands_first():
    first = blocks("bash")[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_python_blocks_run(tmp_path):
    script = "\n\n".join(blocks("python"))
    assert script.strip()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "torch.Size([1, 23, 2000])" in result.stdout
    assert "torch.Size([1, 2])" in result.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from labram_hf.data._testing import export_crop

    root = tmp_path_factory.mktemp("readme")
    recordings = root / "recordings"
    recordings.mkdir()
    export_crop("tuh", recordings / "tuh_crop.edf", 0, 40)
    export_crop("absence", recordings / "absence_crop.edf", 100, 140)
    for fixture, name in (("pretrain", "labram-base.pth"), ("tokenizer", "vqnsp.pth")):
        state_dict = torch.load(FIXTURES / f"{fixture}.pt", weights_only=True)["state_dict"]
        torch.save({"model": state_dict, "epoch": 0, "args": argparse.Namespace(model="labram")}, root / name)
    return root


def test_bash_blocks_run(scratch, monkeypatch):
    from labram_hf.cli import main

    monkeypatch.chdir(scratch)  # the commands run in-process, exactly as written, from the scratch directory
    ran = []
    for body in blocks("bash"):
        for line in body.splitlines():
            command = line.split("#")[0].strip()
            if not command or command.startswith("make "):
                continue
            argv = shlex.split(command)
            assert argv[0] == "labram", f"README shell commands are `labram ...` or `make ...`: {command}"
            target = Path(argv[argv.index("--output") + 1]) if "--output" in argv else None
            if target is not None and (scratch / target).exists():
                continue  # the same command appears in two sections; it ran once
            assert main(argv[1:]) == 0, command
            ran.append(command)
    assert len(ran) >= 6
    import datasets

    windows = datasets.load_from_disk(str(scratch / "windows"))
    assert windows.num_rows == 8 and len(windows[0]["input_values"][0]) == 2000
    assert (scratch / "labram-base-hf" / "model.safetensors").exists()
    assert (scratch / "vqnsp-hf" / "conversion_info.json").exists()
    assert (scratch / "upload-folder" / "README.md").exists()
    assert (scratch / "labram-base.onnx").stat().st_size > 100_000
