"""The feature extractor travels with the model as remote code.

A tiny classifier and a non-default extractor (notch 60 Hz, low-pass 70 Hz, 4-s windows, lenient channels) are
saved with save_pretrained and published with `labram push --dry-run`. In a FRESH interpreter where labram_hf cannot
be imported, `AutoFeatureExtractor` + `AutoModelForSequenceClassification` with `trust_remote_code=True` load both
from (a) the local directory and (b) an HF cache snapshot of the upload folder (HF_HUB_OFFLINE=1), run the extractor
on a real recording (a 12-s crop of the TUH sample, 256 Hz) and the model on its output: the numbers equal the
in-package ones. After `import labram_hf`, AutoFeatureExtractor returns the package's own class.
"""

from __future__ import annotations

import json
import textwrap

import mne
import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor

import labram_hf
from labram_hf.cli import main as run_cli
from labram_hf.data._testing import export_crop
from labram_hf.hub import EXTRACTOR_CODE_FILES
from tests.test_hub import NOT_IMPORTABLE, make_cache, run_fresh

REPO_ID = "org/labram-tiny-remote"
FE_SETTINGS = dict(notch_freq=60.0, h_freq=70.0, window_seconds=4.0, channel_policy="lenient")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remote_fe")
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=2, id2label={0: "a", 1: "b"},
                                    label2id={"a": 0, "b": 1}, classifier_init_scale=20.0)  # fmt: skip
    model = labram_hf.LaBraMForSequenceClassification(config).eval()
    model_dir = tmp / "model"
    model.save_pretrained(model_dir)
    fe = labram_hf.LaBraMFeatureExtractor(**FE_SETTINGS)
    fe.save_pretrained(model_dir)
    edf = export_crop("tuh", tmp / "tuh.edf", 60.0, 72.0)
    return tmp, model, fe, model_dir, edf


def _reference(fe, model, edf):
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    inputs = fe(raw)
    with torch.no_grad():
        logits = model(**inputs).logits
    return inputs, logits


def test_save_pretrained_writes_the_remote_code(saved):
    _, _, fe, model_dir, _ = saved
    config = json.loads((model_dir / "preprocessor_config.json").read_text())
    assert config["auto_map"] == {"AutoFeatureExtractor": "feature_extraction_labram.LaBraMFeatureExtractor"}
    for key, value in FE_SETTINGS.items():
        assert config[key] == value, key
    assert EXTRACTOR_CODE_FILES[0] == "feature_extraction_labram.py"
    assert {"preprocessing.py", "channels.py", "errors.py"} <= set(EXTRACTOR_CODE_FILES)
    package = labram_hf.__file__.rsplit("/", 1)[0]
    for name in EXTRACTOR_CODE_FILES:
        assert (model_dir / name).read_bytes() == open(f"{package}/{name}", "rb").read(), name
    # nothing that needs more than numpy/scipy/mne/transformers is shipped (io.py would need h5py/edfio)
    assert "io.py" not in EXTRACTOR_CODE_FILES and "inference.py" not in EXTRACTOR_CODE_FILES


def test_remote_code_without_labram_hf(saved, tmp_path):
    tmp, model, fe, model_dir, edf = saved
    upload = tmp_path / "upload"
    assert run_cli(["push", str(model_dir), "--repo-id", REPO_ID, "--dry-run", str(upload)]) == 0
    for name in EXTRACTOR_CODE_FILES:
        assert (upload / name).is_file(), name
    hf_home = tmp_path / "hf_home"
    make_cache(upload, hf_home / "hub", repo_id=REPO_ID)
    results = tmp_path / "remote.pt"
    script = NOT_IMPORTABLE + textwrap.dedent(f"""
        import mne, torch
        from transformers import AutoFeatureExtractor, AutoModelForSequenceClassification
        out = {{}}
        raw = mne.io.read_raw_edf({str(edf)!r}, preload=True, verbose="error")
        for name, source in (("dir", {str(model_dir)!r}), ("cache", {REPO_ID!r})):
            fe = AutoFeatureExtractor.from_pretrained(source, trust_remote_code=True)
            model = AutoModelForSequenceClassification.from_pretrained(source, trust_remote_code=True).eval()
            assert type(fe).__module__.startswith("transformers_modules"), type(fe).__module__
            assert type(fe).__name__ == "LaBraMFeatureExtractor"
            inputs = fe(raw)
            with torch.no_grad():
                logits = model(**inputs).logits
            out[name] = {{"input_values": inputs["input_values"], "channel_ids": inputs["channel_ids"],
                         "logits": logits, "settings": {{k: getattr(fe, k) for k in {sorted(FE_SETTINGS)!r}}}}}
        torch.save(out, {str(results)!r})
    """)
    run_fresh(script, tmp_path, hf_home, importable=False)
    got = torch.load(results)
    inputs, logits = _reference(fe, model, edf)
    assert inputs["input_values"].shape == (1, 23, 12 * 200)  # 256 Hz -> 200 Hz, 23 TUH channels
    for name in ("dir", "cache"):
        assert got[name]["settings"] == FE_SETTINGS, name
        assert torch.equal(got[name]["channel_ids"], inputs["channel_ids"]), name
        torch.testing.assert_close(got[name]["input_values"], inputs["input_values"], atol=1e-6, rtol=0)
        torch.testing.assert_close(got[name]["logits"], logits, atol=1e-5, rtol=0)
    # the saved settings matter: the default extractor (50 Hz notch, 75 Hz low-pass) gives other inputs
    default_inputs, _ = _reference(labram_hf.LaBraMFeatureExtractor(), model, edf)
    assert not np.allclose(default_inputs["input_values"].numpy(), inputs["input_values"].numpy(), atol=1e-3)


def test_auto_feature_extractor_after_import_labram_hf(saved, tmp_path):
    """In a fresh interpreter, `import labram_hf` alone makes AutoFeatureExtractor return the package's class
    (with or without trust_remote_code), and AutoModel find the LaBraM classes."""
    _, _, fe, model_dir, _ = saved
    script = textwrap.dedent(f"""
        import sys
        import labram_hf
        assert "torch" not in sys.modules and "mne" not in sys.modules
        from transformers import AutoFeatureExtractor, AutoModelForSequenceClassification
        for trust in (False, True):
            fe = AutoFeatureExtractor.from_pretrained({str(model_dir)!r}, trust_remote_code=trust)
            assert type(fe) is labram_hf.LaBraMFeatureExtractor, type(fe)
            assert fe.window_seconds == 4.0 and fe.notch_freq == 60.0 and fe.channel_policy == "lenient"
        model = AutoModelForSequenceClassification.from_pretrained({str(model_dir)!r})
        assert type(model) is labram_hf.LaBraMForSequenceClassification, type(model)
    """)
    run_fresh(script, tmp_path, tmp_path / "hf_home", importable=True)
    # and in this process (registration already done)
    auto = AutoFeatureExtractor.from_pretrained(model_dir)
    assert type(auto) is labram_hf.LaBraMFeatureExtractor and auto.to_dict() == fe.to_dict()
