"""Every code block of the README is executed.

* `python` blocks run, in order, as one script in a fresh interpreter, in a directory that holds `labram-base-hf`
  (what the README's `labram convert --checkpoint labram-base.pth --output labram-base-hf` writes, converted here from
  the reference fixture's pre-training checkpoint: a 2-block model of the base width). The script fine-tunes
  `eyes-model` from it on crops of the real sample recording *absence*.
* `bash` blocks run line by line (a trailing backslash continues a line) in a scratch directory that holds what their
  commands name, all cut from the REAL sample recordings: `recordings/` (EDF crops of *tuh* and *absence*),
  `eyes.edf` (70 s of *absence* with its technician's 7 "eyes open" / "eyes closed" markers), `eyes-plain.edf` and
  `eyes-annotations.csv` (the same crop without annotations, and its markers as an mne annotation file),
  `eyes-epo.fif` (2-s trials at those markers, cut with mne), `absence_100hz.edf` (a crop resampled to 100 Hz),
  `cap_raw.fif` (the 19 10-20 channels of a crop renamed `EEG 001` ... `EEG 019`, their positions stored in the
  file), `bipolar.edf` (the derivations Fz-Cz and Pz-O1 of a crop), `labram-base.pth` and `vqnsp.pth`
  (original-format checkpoints: the reference fixtures' state dicts, wrapped as the original training code saves
  them) and `eyes-model` (the model the python blocks fine-tune). Lines starting with `make` are the project's own
  entry points: CI runs `make test` itself and `tests/test_demo.py` runs the demo.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FIXTURES = ROOT / "tests" / "fixtures" / "reference"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EYES_CROP = (895.0, 965.0)  # seconds of *absence* holding 7 "eyes open" / "eyes closed" markers
TEN_TWENTY = "Fp1 Fp2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 Fz Cz Pz".split()


def blocks(language):
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def commands(body):
    """The shell lines of a block: continuation lines joined, comments and blank lines dropped."""
    for line in body.replace("\\\n", " ").splitlines():
        command = line.split("#")[0].strip()
        if command:
            yield command


def write_checkpoint(fixture, path):
    """An original-format checkpoint (the reference fixture's state dict as the original training code saves it)."""
    state_dict = torch.load(FIXTURES / f"{fixture}.pt", weights_only=True)["state_dict"]
    torch.save({"model": state_dict, "epoch": 0, "args": argparse.Namespace(model="labram")}, path)


def test_readme_has_exactly_the_two_commands_first():
    first = blocks("bash")[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def python_run(tmp_path_factory):
    """The python blocks, run once as one script; returns the directory and the finished process."""
    from labram_hf.cli import main

    root = tmp_path_factory.mktemp("readme_python")
    checkpoint, converted = root / "labram-base.pth", root / "labram-base-hf"
    write_checkpoint("pretrain", checkpoint)
    assert main(["convert", "--checkpoint", str(checkpoint), "--output", str(converted)]) == 0
    script = "\n\n".join(blocks("python"))
    assert script.strip()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "HF_HOME": str(root / "hf_home")}
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    return root, result


def test_python_blocks_run(python_run):
    root, result = python_run
    assert result.returncode == 0, result.stderr[-4000:]
    out = result.stdout
    # Quickstart
    assert "torch.Size([1, 23, 2000])" in out and "torch.Size([1, 2])" in out
    # From files to a fine-tuned model: the contract travels from the dataset to the model
    assert "60.0 2.0 {0: 'open', 1: 'closed'}" in out
    assert re.search(r"^validation loss \d+\.\d{3}$", out, re.MULTILINE)
    assert re.search(r"^30 (open|closed) (open|closed)$", out, re.MULTILINE)
    assert "notch_freq: training 60.0 vs validation 50.0" in out
    assert not (root / "eyes-cls").exists()  # refused before any training
    model_dir = root / "eyes-model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "open", "1": "closed"} and config["label2id"] == {"open": 0, "closed": 1}
    assert "eeg-classification" in config["custom_pipelines"] and (model_dir / "pipeline_labram.py").is_file()
    saved = json.loads((model_dir / "preprocessor_config.json").read_text())
    assert (saved["notch_freq"], saved["window_seconds"], saved["channel_policy"]) == (60.0, 2.0, "lenient")
    assert json.loads((root / "eyes-val" / "label_schema.json").read_text())["names"] == ["open", "closed"]
    # Your data
    for line in ("EEG FP1-REF -> FP1 (exact)", "EEG T7 -> T7 (exact)", "F7-T3 -> F7-T7 (alias)",
                 "EEG Fpz-Cz -> FPZ (anode)"):  # fmt: skip
        assert line in out
    assert "torch.Size([7, 23, 400])" in out  # seven trials, 23 channels, 2 s
    assert re.search(r"^True$", out, re.MULTILINE)  # interpolate_pos_encoding is the identity when the table fits
    assert "[{'start': 0.0, 'channel': 'FP1', 'patch': 0}, {'start': 0.0, 'channel': 'FP1', 'patch': 1}, " in out
    assert "(1380, 200)" in out and "(30, 23, 200)" in out
    agreement, difference = re.search(r"argmax agreement (\S+), max \|logit difference\| (\S+)", out).groups()
    assert float(agreement) >= 0.9 and 0 < float(difference) < 1e-2  # quantised (not fp32) and close


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, python_run):
    import mne

    from labram_hf.data._testing import export_crop, sample_raw
    from labram_hf.io import read_raw
    from labram_hf.montage import load_montage

    root = tmp_path_factory.mktemp("readme")
    export_crop("tuh", root / "recordings" / "tuh_crop.edf", 0, 40)
    export_crop("absence", root / "recordings" / "absence_crop.edf", 100, 140)
    for fixture, name in (("pretrain", "labram-base.pth"), ("tokenizer", "vqnsp.pth")):
        write_checkpoint(fixture, root / name)

    absence = sample_raw("absence")
    offset = absence.first_time if absence.annotations.orig_time is not None else 0.0
    onsets = [float(onset) - offset for onset in absence.annotations.onset]
    markers = [(onset - EYES_CROP[0], 0.0, str(text)) for onset, text in zip(onsets, absence.annotations.description)
               if EYES_CROP[0] <= onset < EYES_CROP[1] and str(text) in ("eyes open", "eyes closed")]  # fmt: skip
    assert len(markers) == 7
    eyes = read_raw(export_crop("absence", root / "eyes.edf", *EYES_CROP, annotations=markers))
    export_crop("absence", root / "eyes-plain.edf", *EYES_CROP)
    eyes.annotations.save(root / "eyes-annotations.csv", overwrite=True, verbose="error")
    events, event_id = mne.events_from_annotations(eyes, {"eyes open": 1, "eyes closed": 2}, verbose="error")
    trials = mne.Epochs(eyes, events, event_id, tmin=0.0, tmax=2.0 - 1 / 200, baseline=None, preload=True,
                        verbose="error")  # fmt: skip
    trials.save(root / "eyes-epo.fif", verbose="error")
    export_crop("absence", root / "absence_100hz.edf", 300, 340, resample=100.0)

    crop = absence.copy().crop(300, 340, include_tmax=False).load_data(verbose="error")
    cap = crop.copy().pick([f"EEG {name}" for name in TEN_TWENTY]).rename_channels(lambda name: name[4:])
    cap.set_montage(load_montage("standard_1020"))
    cap.rename_channels({name: f"EEG {i:03d}" for i, name in enumerate(cap.ch_names, 1)})
    cap.save(root / "cap_raw.fif", verbose="error")
    fz, cz, pz, o1 = crop.get_data(picks=["EEG Fz", "EEG Cz", "EEG Pz", "EEG O1"])
    bipolar = mne.io.RawArray(np.stack([fz - cz, pz - o1]), mne.create_info(["EEG Fz-Cz", "EEG Pz-O1"], 200.0, "eeg"),
                              verbose="error")  # fmt: skip
    mne.export.export_raw(root / "bipolar.edf", bipolar, fmt="edf", verbose="error")

    python_root, result = python_run
    if result.returncode != 0:
        pytest.fail("the python blocks failed, so there is no eyes-model (see test_python_blocks_run)")
    shutil.copytree(python_root / "eyes-model", root / "eyes-model")
    return root


def test_bash_blocks_run(scratch, monkeypatch):
    import datasets

    from labram_hf.cli import main

    monkeypatch.chdir(scratch)  # the commands run in-process, exactly as written, from the scratch directory
    ran = []
    for body in blocks("bash"):
        for command in commands(body):
            if command.startswith("make "):
                continue
            argv = shlex.split(command)
            assert argv[0] == "labram", f"README shell commands are `labram ...` or `make ...`: {command}"
            target = Path(argv[argv.index("--output") + 1]) if "--output" in argv else None
            if target is not None and (scratch / target).exists():
                continue  # the same command appears in two sections; it ran once
            before = sorted(scratch.rglob("*"))
            assert main(argv[1:]) == 0, command
            if argv[1] == "prepare" and "--dry-run" in argv:
                assert sorted(scratch.rglob("*")) == before, f"a dry run wrote files: {command}"
            ran.append(command)
    assert len(ran) >= 16

    windows = datasets.load_from_disk(str(scratch / "windows"))
    assert windows.num_rows == 8 and len(windows[0]["input_values"][0]) == 2000
    assert (scratch / "labram-base-hf" / "model.safetensors").exists()
    assert (scratch / "vqnsp-hf" / "conversion_info.json").exists()
    assert (scratch / "upload-folder" / "README.md").exists()
    assert (scratch / "labram-base.onnx").stat().st_size > 100_000

    # channels: the nearest-electrode plot (and above: the dry run wrote nothing)
    assert (scratch / "cap-channels.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 100 Hz: the low-pass and notch travel with the data
    slow = json.loads((scratch / "slow-windows" / "preprocessor_config.json").read_text())
    assert (slow["h_freq"], slow["notch_freq"]) == (45.0, None)
    assert datasets.load_from_disk(str(scratch / "slow-windows")).num_rows == 4
    # trials cut from the continuous recording and read from the epoch file: the same 7 trials, by event name
    cut = datasets.load_from_disk(str(scratch / "eyes-trials"))
    epoched = datasets.load_from_disk(str(scratch / "eyes-epochs"))
    for trials in (cut, epoched):
        assert trials.features["label"].names == ["eyes closed", "eyes open"]
        assert trials.num_rows == 7 and len(trials[0]["input_values"][0]) == 400
        assert trials["event"] == ["eyes open", "eyes closed"] * 3 + ["eyes open"]
    cut_onsets, epoch_onsets = np.array(cut["onset"]), np.array(epoched["onset"])
    np.testing.assert_allclose(cut_onsets - cut_onsets[0], epoch_onsets - epoch_onsets[0], atol=0.01)
    # markers from a separate annotation file, each labelling the span it opens
    spans = datasets.load_from_disk(str(scratch / "eyes-spans"))
    assert spans.features["label"].names == ["closed", "open"] and set(spans["label"]) == {0, 1}
    assert min(spans["start"]) >= 6.0  # nothing before the first marker (7.6 s) is labelled
    # whole-recording vote and per-patch features
    import pandas as pd

    per_window = pd.read_csv(scratch / "eyes-predictions.csv")
    per_recording = pd.read_csv(scratch / "eyes-predictions_recordings.csv")
    assert len(per_window) == 35 and len(per_recording) == 1 and per_recording["n_windows"][0] == 35
    assert per_recording["votes_open"][0] + per_recording["votes_closed"][0] == 35
    assert per_recording["label"][0] == per_window["label"].value_counts().idxmax()
    patches = np.load(scratch / "eyes-patches.npy")
    rows = pd.read_csv(scratch / "eyes-patches_rows.csv")
    # the converted checkpoint's extractor has no window length: 10-s windows; rows channel-major within a window
    assert patches.shape == (7 * 21 * 10, 200) == (len(rows), 200)  # windows x channels x patches
    assert rows["channel"].tolist()[9:11] == ["FP1", "FP2"] and rows["patch"].tolist()[:11] == [*range(10), 0]
    assert np.isfinite(patches).all() and patches.std() > 0.1
