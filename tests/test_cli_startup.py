"""The CLI answers at once and `import labram_hf` is cheap, while the Auto registration still works.

Measured in fresh interpreters: `import labram_hf.cli` (and building every sub-command's parser) imports none of
torch / transformers / mne / datasets / numpy; `import labram_hf` imports none of mne / datasets / scipy / pandas /
sklearn (nor torch); `labram --help` and an argument error take less time than `import torch, transformers` alone;
and after `import labram_hf` the transformers Auto classes resolve LaBraM configs, models and the extractor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

BASELINE = "import torch, transformers"
HEAVY = ("torch", "transformers", "mne", "datasets", "numpy", "scipy", "pandas", "sklearn", "pyarrow")


def python(code: str, *args: str, check: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args, "-c", code] if code else [sys.executable, *args],
                            capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    elapsed = time.perf_counter() - start
    if check:
        assert result.returncode == 0, result.stderr
    return result, elapsed


def imported_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result, _ = python(code)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_imports_nothing_heavy():
    assert imported_after("import labram_hf.cli; labram_hf.cli.build_parser()") == []


def test_package_import_is_light():
    loaded = imported_after("import labram_hf; labram_hf.channel_ids(['Fp1', 'Cz'])")
    assert not set(loaded) & {"torch", "mne", "datasets", "scipy", "pandas", "sklearn"}, loaded


def test_help_and_argument_errors_answer_at_once():
    def fastest(code: str, *args: str, check: bool = True) -> float:
        return min(python(code, *args, check=check)[1] for _ in range(2 if code != BASELINE else 1))

    baseline = fastest(BASELINE)
    package = fastest("import labram_hf")
    help_time = fastest("", "-m", "labram_hf.cli", "--help")
    sub_help = fastest("", "-m", "labram_hf.cli", "predict", "--help")
    result, arg_error = python("", "-m", "labram_hf.cli", "embed", "--model", check=False)
    assert result.returncode == 2 and "usage:" in result.stderr
    print(f"\nimport torch, transformers: {baseline:.2f} s; import labram_hf: {package:.2f} s; labram --help: "
          f"{help_time:.2f} s; labram predict --help: {sub_help:.2f} s; argument error: {arg_error:.2f} s")  # fmt: skip
    assert package <= baseline + 0.5
    # generous bounds relative to the baseline measured here (absolute times are flaky on a loaded machine)
    assert help_time < baseline and sub_help < baseline and arg_error < baseline


def test_auto_classes_resolve_after_a_light_import(tmp_path):
    """Registration on demand: configs, models and the extractor resolve through the Auto classes, also for a
    config class imported straight from labram_hf.modeling and a directory loaded by path."""
    script = textwrap.dedent(f"""
        import sys
        import labram_hf
        assert "torch" not in sys.modules
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForPreTraining
        from labram_hf.modeling.configuration_labram import LaBraMConfig, LaBraMTokenizerConfig
        config = LaBraMConfig(num_hidden_layers=1)
        model = AutoModel.from_config(config)
        assert type(model).__name__ == "LaBraMModel" and type(model).__module__.startswith("labram_hf."), type(model)
        assert type(AutoModelForPreTraining.from_config(config)).__name__ == "LaBraMForMaskedEEGModeling"
        assert AutoConfig.for_model("labram_tokenizer").__class__ is LaBraMTokenizerConfig
        model.save_pretrained({str(tmp_path / "m")!r})
        labram_hf.LaBraMFeatureExtractor(notch_freq=60.0).save_pretrained({str(tmp_path / "m")!r})
        assert type(AutoConfig.from_pretrained({str(tmp_path / "m")!r})) is LaBraMConfig
        fe = AutoFeatureExtractor.from_pretrained({str(tmp_path / "m")!r})
        assert type(fe) is labram_hf.LaBraMFeatureExtractor and fe.notch_freq == 60.0
        assert type(AutoModel.from_pretrained({str(tmp_path / "m")!r})) is labram_hf.LaBraMModel
    """)
    result, _ = python(script)
    assert result.returncode == 0
