"""transformers pipelines for LaBraM: `pipeline("eeg-classification")` and `pipeline("eeg-feature-extraction")`.

After `import labram_hf` both tasks are known to transformers (the pipeline module itself is imported only when a
pipeline is built); on real recordings they give the numbers of `predict_files` / `embed_files` for a file path, an
mne Raw and an array dict, per window and pooled. A model directory given the remote code
(`labram_hf.hub.add_remote_code`: pipeline file + `custom_pipelines` in config.json) runs both pipelines -- and the
built-in task name "feature-extraction" -- with `trust_remote_code=True` in a fresh interpreter that cannot import
labram_hf, with the same results.
"""

from __future__ import annotations

import copy
import json
import shutil
import textwrap

import numpy as np
import pytest
import torch
from transformers import pipeline
from transformers.pipelines import get_supported_tasks

import labram_hf
from labram_hf import _auto_registration, pipeline_labram
from labram_hf.data._testing import export_crop
from labram_hf.hub import PIPELINE_CODE_FILES, add_remote_code, custom_pipelines_config
from labram_hf.inference import embed_files, predict_files
from labram_hf.io import read_raw
from tests.test_hub import NOT_IMPORTABLE, run_fresh

LABELS = {0: "awake", 1: "drowsy", 2: "asleep"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipelines")
    files = [export_crop("absence", tmp / "absence.edf", 1000.0, 1012.0),  # 12 s, 200 Hz, 21 channels
             export_crop("tuh", tmp / "tuh.edf", 60.0, 68.0)]  # 8 s, 256 Hz, 23 channels  # fmt: skip
    torch.manual_seed(0)
    config = labram_hf.LaBraMConfig(num_hidden_layers=1, num_labels=3, id2label=LABELS,
                                    label2id={v: k for k, v in LABELS.items()}, classifier_init_scale=5.0)  # fmt: skip
    model = labram_hf.LaBraMForSequenceClassification(config).eval()
    model_dir = tmp / "classifier"
    model.save_pretrained(model_dir)
    fe = labram_hf.LaBraMFeatureExtractor(window_seconds=4.0, notch_freq=60.0)
    fe.save_pretrained(model_dir)
    return tmp, files, model, fe, model_dir


def test_tasks_are_registered(setup):
    assert {"eeg-classification", "eeg-feature-extraction"} <= set(get_supported_tasks())
    assert {t: (c.__name__, a.__name__) for t, (c, a) in pipeline_labram.PIPELINE_TASKS.items()} == dict(
        _auto_registration.PIPELINE_TASKS
    )


def test_classification_pipeline_equals_predict_files(setup, capsys):
    _, files, model, fe, model_dir = setup
    classify = pipeline("eeg-classification", model=str(model_dir), batch_size=2)
    assert type(classify) is labram_hf.EEGClassificationPipeline
    assert classify.feature_extractor.to_dict() == fe.to_dict()  # the saved extractor (4-s windows, 60 Hz)
    table = predict_files(files, model, fe, aggregate="mean")
    recordings = table.attrs["recordings"]
    results = classify([str(f) for f in files], aggregate="mean", progress=True)
    assert isinstance(results, list) and len(results) == 2
    assert "window" in capsys.readouterr().err  # the tqdm bar
    names = list(LABELS.values())
    for i, (path, result) in enumerate(zip(files, results)):
        rows = table[table["source"] == str(path)]
        assert result["source"] == str(path) and result["n_windows"] == len(rows) == [3, 2][i]
        assert [w["start"] for w in result["windows"]] == rows["start"].tolist()
        got = np.array([[w["scores"][n] for n in names] for w in result["windows"]])
        np.testing.assert_allclose(got, rows[[f"prob_{n}" for n in names]].to_numpy(), atol=1e-6)
        assert [w["label"] for w in result["windows"]] == rows["label"].tolist()
        assert result["label"] == recordings.loc[i, "label"]
        assert result["score"] == pytest.approx(recordings.loc[i, "score"])
        pooled = {s["label"]: s["score"] for s in result["scores"]}
        assert pooled == pytest.approx({n: recordings.loc[i, f"prob_{n}"] for n in names})
        assert [s["score"] for s in result["scores"]] == sorted(pooled.values(), reverse=True)
    # an mne Raw and an array dict of the same recording give the same numbers
    raw = read_raw(files[0], preload=True)
    from_raw = classify(raw, aggregate="vote")
    data = {"array": raw.get_data(), "sampling_rate": raw.info["sfreq"], "channel_names": raw.ch_names}
    from_dict = classify(data, aggregate="vote")
    assert from_dict["source"] == "array"
    for other in (from_raw, from_dict):
        np.testing.assert_allclose([w["score"] for w in other["windows"]],
                                   [w["score"] for w in results[0]["windows"]], atol=1e-5)  # fmt: skip
    assert sum(from_raw["votes"].values()) == 3 and from_raw["aggregate"] == "vote"


def test_feature_extraction_pipeline_equals_embed_files(setup):
    _, files, model, fe, model_dir = setup
    extract = pipeline("eeg-feature-extraction", model=str(model_dir))
    assert type(extract) is labram_hf.EEGFeatureExtractionPipeline
    assert type(extract.model) is labram_hf.LaBraMModel  # the classifier's backbone (AutoModel)
    patches = embed_files(files[:1], model, fe, level="patch")
    result = extract(str(files[0]), level="patch")
    n, c, a, d = result["embeddings"].shape
    assert (n, a, d) == (3, 4, 200) and result["channels"] == patches["channel"].tolist()[: c * a : a]
    np.testing.assert_allclose(result["embeddings"].reshape(-1, d), np.stack(patches["embedding"]), atol=1e-6)
    np.testing.assert_allclose(result["embedding"], result["embeddings"].mean(axis=0), atol=1e-6)
    windows = extract(str(files[0]))  # level="window": pooler_output
    np.testing.assert_allclose(windows["embeddings"], np.stack(embed_files(files[:1], model, fe)["embedding"]),
                               atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="unknown level"):
        extract(str(files[0]), level="token")


def test_pipeline_save_pretrained_writes_custom_pipelines(setup, tmp_path):
    _, _, model, fe, _ = setup
    classify = labram_hf.EEGClassificationPipeline(model=copy.deepcopy(model), feature_extractor=fe)
    classify.save_pretrained(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["custom_pipelines"]["eeg-classification"]["impl"] == "pipeline_labram.EEGClassificationPipeline"
    assert (tmp_path / "saved" / "pipeline_labram.py").is_file()


def test_lazy_registration_in_a_fresh_interpreter(setup, tmp_path):
    _, files, _, _, model_dir = setup
    script = textwrap.dedent(f"""
        import sys
        import labram_hf
        from transformers.pipelines import get_supported_tasks
        assert "eeg-classification" in get_supported_tasks() and "eeg-feature-extraction" in get_supported_tasks()
        assert "labram_hf.pipeline_labram" not in sys.modules  # imported when a pipeline is built
        from transformers import pipeline
        classify = pipeline("eeg-classification", model={str(model_dir)!r})
        assert type(classify).__module__ == "labram_hf.pipeline_labram", type(classify)
        assert classify({str(files[1])!r})["n_windows"] == 2
    """)
    run_fresh(script, tmp_path, tmp_path / "hf_home", importable=True)


def test_remote_code_pipelines_without_labram_hf(setup, tmp_path):
    _, files, model, fe, model_dir = setup
    remote_dir = tmp_path / "model"
    shutil.copytree(model_dir, remote_dir)
    add_remote_code(remote_dir)
    config = json.loads((remote_dir / "config.json").read_text())
    assert config["custom_pipelines"] == custom_pipelines_config()
    assert set(config["custom_pipelines"]) == {"eeg-classification", "eeg-feature-extraction", "feature-extraction"}
    package = labram_hf.__file__.rsplit("/", 1)[0]
    for name in PIPELINE_CODE_FILES:
        assert (remote_dir / name).read_bytes() == open(f"{package}/{name}", "rb").read()
    edf = files[1]
    out = tmp_path / "remote.npz"
    script = NOT_IMPORTABLE + textwrap.dedent(f"""
        import numpy as np
        from transformers import pipeline
        classify = pipeline("eeg-classification", model={str(remote_dir)!r}, trust_remote_code=True)
        assert type(classify).__module__.startswith("transformers_modules"), type(classify).__module__
        assert classify.feature_extractor.notch_freq == 60.0 and classify.feature_extractor.window_seconds == 4.0
        result = classify({str(edf)!r}, aggregate="max")
        names = [s["label"] for s in sorted(result["scores"], key=lambda s: s["label"])]
        probs = np.array([[w["scores"][n] for n in names] for w in result["windows"]])
        pooled = np.array([{{s["label"]: s["score"] for s in result["scores"]}}[n] for n in names])
        builtin = pipeline("feature-extraction", model={str(remote_dir)!r}, trust_remote_code=True)
        assert type(builtin).__name__ == "EEGFeatureExtractionPipeline", type(builtin)
        patches = builtin({str(edf)!r}, level="patch")["embeddings"]
        extract = pipeline("eeg-feature-extraction", model={str(remote_dir)!r}, trust_remote_code=True)
        channel = extract({str(edf)!r}, level="channel")["embeddings"]
        np.savez({str(out)!r}, probs=probs, pooled=pooled, names=np.array(names), label=result["label"],
                 patches=patches, channel=channel)
    """)
    run_fresh(script, tmp_path, tmp_path / "hf_home", importable=False)
    got = np.load(out)
    table = predict_files([edf], model, fe, aggregate="max")
    names = [str(n) for n in got["names"]]
    np.testing.assert_allclose(got["probs"], table[[f"prob_{n}" for n in names]].to_numpy(), atol=1e-5)
    recording = table.attrs["recordings"].iloc[0]
    np.testing.assert_allclose(got["pooled"], [recording[f"prob_{n}"] for n in names], atol=1e-5)
    assert str(got["label"]) == recording["label"]
    patches = np.stack(embed_files([edf], model, fe, level="patch")["embedding"])
    np.testing.assert_allclose(got["patches"].reshape(-1, 200), patches, atol=1e-5)
    channel = np.stack(embed_files([edf], model, fe, level="channel")["embedding"])
    np.testing.assert_allclose(got["channel"].reshape(-1, 200), channel, atol=1e-5)


def test_upload_folder_carries_the_pipelines(setup, tmp_path):
    from labram_hf.hub import write_upload_folder

    _, _, _, _, model_dir = setup
    folder = tmp_path / "upload"
    folder.mkdir()
    write_upload_folder(model_dir, folder, verify=False)
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"]["eeg-classification"] == {
        "impl": "pipeline_labram.EEGClassificationPipeline", "pt": ["AutoModelForSequenceClassification"],
        "type": "multimodal",
    }  # fmt: skip
    assert config["custom_pipelines"]["feature-extraction"]["impl"] == "pipeline_labram.EEGFeatureExtractionPipeline"
    assert (folder / "pipeline_labram.py").is_file() and (folder / "feature_extraction_labram.py").is_file()


def test_resaving_without_pipeline_code_drops_custom_pipelines(setup, tmp_path):
    """A model loaded from a directory with pipeline code and saved elsewhere (e.g. by `Trainer.save_model`) must
    not advertise `custom_pipelines` whose code it did not write: such a directory works with labram_hf's registered
    pipelines and no `trust_remote_code`; saving over a directory that holds the code keeps them."""
    _, files, _, fe, model_dir = setup
    remote_dir = tmp_path / "with-code"
    shutil.copytree(model_dir, remote_dir)
    add_remote_code(remote_dir)
    model = labram_hf.LaBraMForSequenceClassification.from_pretrained(remote_dir)
    assert model.config.custom_pipelines == custom_pipelines_config()

    resaved = tmp_path / "resaved"
    model.save_pretrained(resaved)
    fe.save_pretrained(resaved)
    assert "custom_pipelines" not in json.loads((resaved / "config.json").read_text())
    assert model.config.custom_pipelines == custom_pipelines_config()  # the in-memory config is left as it was
    classify = pipeline("eeg-classification", model=str(resaved))
    assert type(classify) is pipeline_labram.EEGClassificationPipeline
    assert classify(str(files[1]))["n_windows"] == 2

    model.save_pretrained(remote_dir)
    assert json.loads((remote_dir / "config.json").read_text())["custom_pipelines"] == custom_pipelines_config()
    with pytest.raises(ValueError, match="trust_remote_code"):
        pipeline("eeg-classification", model=str(remote_dir))
