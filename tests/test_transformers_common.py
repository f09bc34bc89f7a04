# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""transformers' own common model and configuration tests, run against the LaBraM classes.

`ModelTesterMixin` (tests/test_modeling_common.py) and `ConfigTester` (tests/test_configuration_common.py) are not
part of the transformers wheel, so this module takes them from the transformers *source distribution* on PyPI, for
exactly the installed transformers version:

* the sdist is fetched once with `pip download --no-deps --no-binary :all: transformers==<version>` and only its
  `tests/` tree (without `tests/models/`) is extracted into `~/.cache/labram_hf/transformers-src/<version>/tests`;
* `LABRAM_HF_TRANSFORMERS_SRC` overrides that directory (e.g. a transformers git checkout at the same version); it
  must contain `tests/test_modeling_common.py`;
* if the sources cannot be obtained (offline, pip failure) or `parameterized` (imported by the common tests) is not
  installed, the whole module is skipped with the reason; it never fails for network reasons.

The sdist ships only the top-level `tests/*.py` files, while the common tests import three helpers from
sub-packages it lacks (`exporters.test_export.ExportTesterMixin`, `generation.test_utils.GenerationTesterMixin`,
`utils.test_configuration_utils.config_common_kwargs`). When they are missing, minimal stand-ins are registered:
empty mixins (no export or generation tests run; LaBraM cannot generate) and a dict of non-default values for the
fields of the installed `PreTrainedConfig`. With a full checkout the real modules are used.

The common tests are imported under the package name `_transformers_common_tests`, so they never clash with this
repository's own `tests` package.
"""

import copy
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
import unittest
import warnings
from pathlib import Path

import pytest
import torch
import transformers

from labram_hf import (
    LaBraMConfig,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMModel,
    LaBraMTokenizerConfig,
    LaBraMTokenizerModel,
)


# ----------------------------------------------------------------------------------------------------------------------
# Locating and importing transformers' common tests
# ----------------------------------------------------------------------------------------------------------------------

_PACKAGE = "_transformers_common_tests"
_SRC_ENV = "LABRAM_HF_TRANSFORMERS_SRC"
_PIP_TIMEOUT_S = 300


class _Unavailable(Exception):
    """The common tests cannot be obtained; the module is skipped with this message."""


def _source_root() -> Path:
    override = os.environ.get(_SRC_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "labram_hf" / "transformers-src" / transformers.__version__


def _fetch_sdist_tests(root: Path) -> None:
    """pip-download the transformers sdist of the installed version and extract its `tests/` tree into `root`."""
    version = transformers.__version__
    with tempfile.TemporaryDirectory(prefix="labram_hf_tfsrc_") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
            "--retries", "2", "--timeout", "30", f"transformers=={version}", "-d", tmp,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise _Unavailable(f"`pip download transformers=={version}` (sdist) failed: {error}") from error
        archives = sorted(Path(tmp).glob("transformers-*.tar.gz"))
        if result.returncode != 0 or not archives:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise _Unavailable(
                f"could not download the transformers {version} sdist from PyPI (pip exit {result.returncode}): "
                + " | ".join(tail)
            )
        staging = Path(tmp) / "extract"
        with tarfile.open(archives[0]) as archive:
            members = []
            for member in archive.getmembers():
                parts = Path(member.name).parts
                # <sdist root>/tests/... without the per-model test suites
                if len(parts) >= 3 and parts[1] == "tests" and parts[2] != "models" and (member.isfile() or member.isdir()):
                    members.append(member)
            if not members:
                raise _Unavailable(f"the transformers {version} sdist contains no tests/ directory")
            archive.extractall(staging, members=members, filter="data")
        extracted = next(staging.iterdir()) / "tests"
        root.mkdir(parents=True, exist_ok=True)
        target = root / "tests"
        partial = root / f"tests.partial-{os.getpid()}"
        shutil.copytree(extracted, partial)
        if target.exists():  # another process finished first
            shutil.rmtree(partial, ignore_errors=True)
        else:
            os.replace(partial, target)


def _register_stub(name: str, **attributes) -> None:
    """Register an in-memory module `_PACKAGE.<name>` (and its parent packages) holding `attributes`."""
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package_name = ".".join([_PACKAGE, *parts[:depth]])
        if package_name not in sys.modules:
            package = types.ModuleType(package_name)
            package.__path__ = []
            sys.modules[package_name] = package
    module = types.ModuleType(f"{_PACKAGE}.{name}")
    module.__dict__.update(attributes)
    sys.modules[module.__name__] = module


def _stub_config_common_kwargs() -> dict:
    """Non-default values for every public field of the installed `PreTrainedConfig` (as the upstream dict holds)."""
    candidates = {
        "return_dict": False,
        "output_hidden_states": True,
        "output_attentions": True,
        "dtype": "float16",
        "chunk_size_feed_forward": 5,
        "architectures": ["BertModel"],
        "id2label": {0: "label"},
        "label2id": {"label": "0"},
        "problem_type": "regression",
    }
    base = transformers.PreTrainedConfig()
    return {key: value for key, value in candidates.items() if hasattr(base, key)}


class _ExportTesterMixin:
    """Stand-in for tests/exporters/test_export.py, which the sdist does not ship: no export tests."""


class _GenerationTesterMixin:
    """Stand-in for tests/generation/test_utils.py, which the sdist does not ship (LaBraM cannot generate)."""


def _import_common_tests():
    try:
        import parameterized  # noqa: F401  (imported by test_modeling_common)
    except ImportError as error:
        raise _Unavailable("transformers' common tests need the `parameterized` package (pip install parameterized)") from error

    root = _source_root()
    tests_dir = root / "tests"
    if not (tests_dir / "test_modeling_common.py").is_file():
        if os.environ.get(_SRC_ENV):
            raise _Unavailable(f"{_SRC_ENV}={root} holds no tests/test_modeling_common.py")
        _fetch_sdist_tests(root)
    if not (tests_dir / "__init__.py").exists():
        # test_configuration_common.py runs `direct_transformers_import(<tests>)`, which executes tests/__init__.py.
        (tests_dir / "__init__.py").touch()

    if _PACKAGE not in sys.modules:
        package = types.ModuleType(_PACKAGE)
        package.__path__ = [str(tests_dir)]
        package.__file__ = str(tests_dir / "__init__.py")
        sys.modules[_PACKAGE] = package
    if not (tests_dir / "exporters" / "test_export.py").is_file():
        _register_stub("exporters.test_export", ExportTesterMixin=_ExportTesterMixin)
    if not (tests_dir / "generation" / "test_utils.py").is_file():
        _register_stub("generation.test_utils", GenerationTesterMixin=_GenerationTesterMixin)
    if not (tests_dir / "utils" / "test_configuration_utils.py").is_file():
        _register_stub("utils.test_configuration_utils", config_common_kwargs=_stub_config_common_kwargs())

    with warnings.catch_warnings():
        # the marks (flash_attn_test, torch_compile_test, ...) are registered by transformers' own conftest only
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        modeling_common = importlib.import_module(f"{_PACKAGE}.test_modeling_common")
        configuration_common = importlib.import_module(f"{_PACKAGE}.test_configuration_common")
    return modeling_common, configuration_common


try:
    _modeling_common, _configuration_common = _import_common_tests()
except _Unavailable as _error:
    pytest.skip(f"transformers common tests unavailable: {_error}", allow_module_level=True)

# transformers' common tests recognise base models and sequence classifiers by the class names in the library's
# static auto mappings (`MODEL_MAPPING_NAMES`, ...), which an out-of-tree model can never be part of (`AutoModel.register`
# fills other tables). List LaBraM there as an in-library model would be, in the common test module's namespace only
# (transformers' own dicts stay untouched): the bare `LaBraMModel` is then treated as a loss-less base model (training
# tests use the heads), base <-> head prefix checks see it, and the classifier gets labels / problem-type tests.
# The tokenizer is deliberately not listed: it computes its own loss and is trained by the training tests.
_modeling_common.MODEL_MAPPING_NAMES = {**_modeling_common.MODEL_MAPPING_NAMES, "labram": "LaBraMModel"}
_modeling_common.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES = {
    **_modeling_common.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    "labram": "LaBraMForSequenceClassification",
}

ModelTesterMixin = _modeling_common.ModelTesterMixin
ConfigTester = _configuration_common.ConfigTester
floats_tensor = _modeling_common.floats_tensor
ids_tensor = _modeling_common.ids_tensor


def _skip_common_tests(test_class, reasons: dict[str, str]):
    """Replace inherited common tests by explicit skips, each with its reason; fail loudly on a stale name."""
    for name, reason in reasons.items():
        if not hasattr(test_class, name):
            raise AttributeError(f"{test_class.__name__}: no common test named {name!r} to skip")

        def skipped(self, *args, _reason=reason, **kwargs):
            self.skipTest(_reason)

        skipped.__name__ = name
        setattr(test_class, name, skipped)
    return test_class


# Reasons shared by both test classes.
_NO_TOKEN_EMBEDDINGS = "EEG input: no token embedding matrix or text vocabulary to resize, tie or embed"
_NO_INPUTS_EMBEDS = "EEG input: the models take `input_values`, there is no `input_ids`/`inputs_embeds` path"
_NO_FLASH = "flash / flex attention is not supported (head sizes 20/25/50, `_supports_flash_attn = False`); GPU only"
_NEEDS_ACCELERATOR = "needs a GPU (multi-device placement / offloading)"
_NOT_MULTIMODAL = "not a multimodal or composite model: there are no text/image/audio/video feature getters"
_NO_ROPE = "LaBraM uses learned spatial and temporal embeddings, no rotary embeddings"
_NO_MOE = "not a mixture-of-experts model"

_COMMON_SKIPS = {
    # token embeddings / text inputs (`test_input_embeddings_are_the_patch_encoder` below checks what applies)
    "test_model_get_set_embeddings": _NO_TOKEN_EMBEDDINGS + " (the input embedding is the temporal convolution)",
    "test_resize_tokens_embeddings": _NO_TOKEN_EMBEDDINGS,
    "test_resize_embeddings_untied": _NO_TOKEN_EMBEDDINGS,
    "test_resize_embeddings_untied_no_reinit_on_post_init": _NO_TOKEN_EMBEDDINGS,
    "test_resize_tokens_embeddings_with_deepspeed": _NO_TOKEN_EMBEDDINGS,
    "test_resize_tokens_embeddings_with_deepspeed_multi_gpu": _NO_TOKEN_EMBEDDINGS,
    "test_resize_embeddings_untied_with_deepspeed": _NO_TOKEN_EMBEDDINGS,
    "test_resize_embeddings_untied_with_deepspeed_multi_gpu": _NO_TOKEN_EMBEDDINGS,
    "test_inputs_embeds": _NO_INPUTS_EMBEDS,
    "test_inputs_embeds_matches_input_ids": _NO_INPUTS_EMBEDS,
    "test_load_with_mismatched_shapes": (
        "text-model test: shrinks `vocab_size` expecting the base model's token embedding to mismatch, then feeds "
        "token ids; LaBraM's `vocab_size` sizes only the MEM head (the num_labels mismatch is covered by "
        "test_can_load_ignoring_mismatched_shapes)"
    ),
    # flash / flex attention
    "test_flash_attn_kernels_inference_equivalence": _NO_FLASH,
    "test_flash_attn_kernels_mps_inference_equivalence": _NO_FLASH,
    "test_flash_attn_2_inference_equivalence": _NO_FLASH,
    "test_flash_attn_2_inference_equivalence_right_padding": _NO_FLASH,
    "test_flash_attn_3_inference_equivalence": _NO_FLASH,
    "test_flash_attn_3_inference_equivalence_right_padding": _NO_FLASH,
    "test_flash_attn_4_inference_equivalence": _NO_FLASH,
    "test_flash_attn_4_inference_equivalence_right_padding": _NO_FLASH,
    "test_flash_attn_2_can_dispatch_composite_models": _NO_FLASH,
    "test_flash_attn_3_can_dispatch_composite_models": _NO_FLASH,
    "test_flash_attn_4_can_dispatch_composite_models": _NO_FLASH,
    "test_flash_attn_2_fp32_ln": _NO_FLASH,
    "test_flash_attn_2_can_compile_with_attention_mask_None_without_graph_break": _NO_FLASH,
    "test_flash_attn_2_from_config": _NO_FLASH,
    "test_flash_attn_3_from_config": _NO_FLASH,
    "test_flash_attn_4_from_config": _NO_FLASH,
    "test_flex_attention_with_grads": _NO_FLASH,
    "test_sdpa_can_dispatch_on_flash": _NO_FLASH,
    # multi-device
    "test_disk_offload_bin": _NEEDS_ACCELERATOR,
    "test_disk_offload_safetensors": _NEEDS_ACCELERATOR,
    "test_cpu_offload": _NEEDS_ACCELERATOR,
    "test_model_parallelism": _NEEDS_ACCELERATOR,
    # modalities, rope, moe
    "test_get_text_features_output": _NOT_MULTIMODAL,
    "test_get_text_features_hidden_states": _NOT_MULTIMODAL,
    "test_get_text_features_attentions": _NOT_MULTIMODAL,
    "test_get_image_features_output": _NOT_MULTIMODAL,
    "test_get_image_features_pooler_output": _NOT_MULTIMODAL,
    "test_get_image_features_hidden_states": _NOT_MULTIMODAL,
    "test_get_image_features_attentions": _NOT_MULTIMODAL,
    "test_get_audio_features_output": _NOT_MULTIMODAL,
    "test_get_audio_features_hidden_states": _NOT_MULTIMODAL,
    "test_get_audio_features_attentions": _NOT_MULTIMODAL,
    "test_get_video_features_output": _NOT_MULTIMODAL,
    "test_get_video_features_pooler_output": _NOT_MULTIMODAL,
    "test_get_video_features_hidden_states": _NOT_MULTIMODAL,
    "test_get_video_features_attentions": _NOT_MULTIMODAL,
    "test_multimodal_outputs_are_returned": _NOT_MULTIMODAL,
    "test_model_rope_scaling_from_config": _NO_ROPE,
    "test_model_rope_scaling_frequencies": _NO_ROPE,
    "test_vision_axial_rope": _NO_ROPE,
    "test_model_rope_with_partial_rotation": _NO_ROPE,
    "test_moe_models_record_router_logits": _NO_MOE,
    "test_output_router_logits_from_config": _NO_MOE,
}


# ----------------------------------------------------------------------------------------------------------------------
# LaBraM backbone and heads
# ----------------------------------------------------------------------------------------------------------------------


class LaBraMModelTester:
    """Tiny LaBraM: 2 blocks, 3 channels x 2 patches (7 tokens with cls), width 100 = 25 x 4 conv channels."""

    def __init__(
        self,
        parent,
        batch_size=4,
        num_channels=3,
        num_patches=2,
        patch_size=200,
        is_training=True,
        use_labels=True,
        hidden_size=100,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        drop_path_rate=0.0,
        temporal_conv_channels=4,
        temporal_conv_groups=2,
        max_time_patches=4,
        num_electrodes=16,
        vocab_size=32,
        num_labels=3,
        initializer_range=0.02,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_channels = num_channels
        self.num_patches = num_patches
        self.patch_size = patch_size
        self.is_training = is_training
        self.use_labels = use_labels
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.drop_path_rate = drop_path_rate
        self.temporal_conv_channels = temporal_conv_channels
        self.temporal_conv_groups = temporal_conv_groups
        self.max_time_patches = max_time_patches
        self.num_electrodes = num_electrodes
        self.vocab_size = vocab_size
        self.num_labels = num_labels
        self.initializer_range = initializer_range
        # patch tokens are channel-major; the cls token comes first
        self.num_tokens = num_channels * num_patches
        self.seq_length = self.num_tokens + 1
        # `bool_masked_pos` covers the patch tokens only (not the cls token); used by the eager/SDPA test
        self.mask_length = self.num_tokens
        self.num_masks = 2

    def get_config(self):
        return LaBraMConfig(
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            drop_path_rate=self.drop_path_rate,
            temporal_conv_channels=self.temporal_conv_channels,
            temporal_conv_groups=self.temporal_conv_groups,
            max_time_patches=self.max_time_patches,
            num_electrodes=self.num_electrodes,
            vocab_size=self.vocab_size,
            num_labels=self.num_labels,
            initializer_range=self.initializer_range,
        )

    def prepare_config_and_inputs(self):
        input_values = floats_tensor([self.batch_size, self.num_channels, self.num_patches * self.patch_size])
        channel_ids = ids_tensor([self.batch_size, self.num_channels], self.num_electrodes)
        labels = None
        if self.use_labels:
            labels = ids_tensor([self.batch_size], self.num_labels)
        return self.get_config(), input_values, channel_ids, labels

    def prepare_config_and_inputs_for_common(self):
        config, input_values, channel_ids, _ = self.prepare_config_and_inputs()
        return config, {"input_values": input_values, "channel_ids": channel_ids}

    def create_and_check_model(self, config, input_values, channel_ids, labels):
        model = LaBraMModel(config).eval()
        with torch.no_grad():
            result = model(input_values, channel_ids=channel_ids)
        self.parent.assertEqual(result.last_hidden_state.shape, (self.batch_size, self.seq_length, self.hidden_size))
        self.parent.assertEqual(result.pooler_output.shape, (self.batch_size, self.hidden_size))

    def create_and_check_for_sequence_classification(self, config, input_values, channel_ids, labels):
        model = LaBraMForSequenceClassification(config).eval()
        with torch.no_grad():
            result = model(input_values, channel_ids=channel_ids, labels=labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_labels))
        self.parent.assertEqual(result.loss.shape, ())

    def create_and_check_for_masked_eeg_modeling(self, config, input_values, channel_ids, labels):
        model = LaBraMForMaskedEEGModeling(config).eval()
        bool_masked_pos = torch.rand(self.batch_size, self.num_tokens) < 0.5
        token_labels = ids_tensor([self.batch_size, self.num_tokens], self.vocab_size)
        with torch.no_grad():
            result = model(input_values, channel_ids=channel_ids, bool_masked_pos=bool_masked_pos, labels=token_labels)
        self.parent.assertEqual(result.logits.shape, (self.batch_size, self.num_tokens, self.vocab_size))
        self.parent.assertEqual(result.symmetric_logits.shape, (self.batch_size, self.num_tokens, self.vocab_size))
        self.parent.assertTrue(torch.isfinite(result.loss))


_LABRAM_SKIPS = {
    **_COMMON_SKIPS,
}


class LaBraMModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (LaBraMModel, LaBraMForSequenceClassification, LaBraMForMaskedEEGModeling)
    pipeline_model_mapping = {}
    additional_model_inputs = ["channel_ids"]
    test_resize_embeddings = False
    test_torch_exportable = False
    has_attentions = True

    def setUp(self):
        self.model_tester = LaBraMModelTester(self)
        self.config_tester = ConfigTester(
            self, config_class=LaBraMConfig, has_text_modality=False, **self._config_tester_kwargs()
        )

    @staticmethod
    def _config_tester_kwargs():
        return {
            "hidden_size": 100,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "temporal_conv_channels": 4,
            "temporal_conv_groups": 2,
        }

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if model_class is LaBraMModel:
            # the bare model is built without a mask token (`use_mask_token=False`) and rejects `bool_masked_pos`
            inputs_dict.pop("bool_masked_pos", None)
        if return_labels:
            batch_size, num_tokens = self.model_tester.batch_size, self.model_tester.num_tokens
            if model_class is LaBraMForSequenceClassification:
                inputs_dict["labels"] = torch.zeros(batch_size, dtype=torch.long)
            elif model_class is LaBraMForMaskedEEGModeling:
                # a fixed mask with masked and unmasked tokens in every sample (both loss terms are non-empty)
                bool_masked_pos = torch.zeros(batch_size, num_tokens, dtype=torch.bool)
                bool_masked_pos[:, ::2] = True
                inputs_dict["bool_masked_pos"] = bool_masked_pos
                inputs_dict["labels"] = torch.zeros(batch_size, num_tokens, dtype=torch.long)
        return inputs_dict

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_input_embeddings_are_the_patch_encoder(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_model_classes:
            model = model_class(copy.deepcopy(config))
            self.assertIs(model.get_input_embeddings(), model.base_model.embeddings.patch_embeddings)
            output_embeddings = model.get_output_embeddings()
            self.assertTrue(output_embeddings is None or isinstance(output_embeddings, torch.nn.Linear))

    def test_for_sequence_classification(self):
        self.model_tester.create_and_check_for_sequence_classification(*self.model_tester.prepare_config_and_inputs())

    def test_for_masked_eeg_modeling(self):
        self.model_tester.create_and_check_for_masked_eeg_modeling(*self.model_tester.prepare_config_and_inputs())


_skip_common_tests(LaBraMModelTest, _LABRAM_SKIPS)


# ----------------------------------------------------------------------------------------------------------------------
# VQ-NSP tokenizer
# ----------------------------------------------------------------------------------------------------------------------


class LaBraMTokenizerModelTester:
    """Tiny VQ-NSP tokenizer: 2 encoder blocks, 1 decoder block, 16 codes of size 8, 3 channels x 2 patches."""

    def __init__(
        self,
        parent,
        batch_size=4,
        num_channels=3,
        num_patches=2,
        patch_size=200,
        is_training=True,
        hidden_size=100,
        num_hidden_layers=2,
        decoder_num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        temporal_conv_channels=4,
        temporal_conv_groups=2,
        max_time_patches=4,
        num_electrodes=16,
        n_code=16,
        code_dim=8,
        kmeans_iters=2,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.num_channels = num_channels
        self.num_patches = num_patches
        self.patch_size = patch_size
        self.is_training = is_training
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.decoder_num_hidden_layers = decoder_num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.temporal_conv_channels = temporal_conv_channels
        self.temporal_conv_groups = temporal_conv_groups
        self.max_time_patches = max_time_patches
        self.num_electrodes = num_electrodes
        self.n_code = n_code
        self.code_dim = code_dim
        self.kmeans_iters = kmeans_iters
        self.num_tokens = num_channels * num_patches
        self.seq_length = self.num_tokens + 1

    def get_config(self):
        return LaBraMTokenizerConfig(
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            decoder_num_hidden_layers=self.decoder_num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            temporal_conv_channels=self.temporal_conv_channels,
            temporal_conv_groups=self.temporal_conv_groups,
            max_time_patches=self.max_time_patches,
            num_electrodes=self.num_electrodes,
            n_code=self.n_code,
            code_dim=self.code_dim,
            kmeans_iters=self.kmeans_iters,
        )

    def prepare_config_and_inputs(self):
        input_values = floats_tensor([self.batch_size, self.num_channels, self.num_patches * self.patch_size])
        channel_ids = ids_tensor([self.batch_size, self.num_channels], self.num_electrodes)
        return self.get_config(), input_values, channel_ids

    def prepare_config_and_inputs_for_common(self):
        config, input_values, channel_ids = self.prepare_config_and_inputs()
        return config, {"input_values": input_values, "channel_ids": channel_ids}

    def create_and_check_model(self, config, input_values, channel_ids):
        model = LaBraMTokenizerModel(config).eval()
        with torch.no_grad():
            result = model(input_values, channel_ids=channel_ids)
            token_ids = model.get_codebook_indices(input_values, channel_ids)
        shape = (self.batch_size, self.num_tokens)
        self.parent.assertEqual(result.token_ids.shape, shape)
        self.parent.assertTrue(torch.equal(token_ids, result.token_ids))
        self.parent.assertEqual(result.quantized.shape, shape + (self.code_dim,))
        self.parent.assertEqual(result.amplitude_reconstruction.shape, shape + (self.patch_size,))
        self.parent.assertTrue(torch.isfinite(result.loss))


_TOKENIZER_NO_STATES = (
    "the tokenizer's output holds codes, reconstructions and losses, not encoder hidden states or attentions"
)
_TOKENIZER_SKIPS = {
    **_COMMON_SKIPS,
    "test_attention_outputs": _TOKENIZER_NO_STATES,
    "test_hidden_states_output": _TOKENIZER_NO_STATES,
    "test_retain_grad_hidden_states_attentions": _TOKENIZER_NO_STATES,
}


class LaBraMTokenizerModelTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (LaBraMTokenizerModel,)
    pipeline_model_mapping = {}
    additional_model_inputs = ["channel_ids"]
    test_resize_embeddings = False
    test_torch_exportable = False
    has_attentions = False

    def setUp(self):
        self.model_tester = LaBraMTokenizerModelTester(self)
        self.config_tester = ConfigTester(
            self,
            config_class=LaBraMTokenizerConfig,
            has_text_modality=False,
            hidden_size=100,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            temporal_conv_channels=4,
            temporal_conv_groups=2,
            n_code=16,
            code_dim=8,
        )

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        self.model_tester.create_and_check_model(*self.model_tester.prepare_config_and_inputs())

    def test_input_embeddings_are_the_patch_encoder(self):
        config, _ = self.model_tester.prepare_config_and_inputs_for_common()
        model = LaBraMTokenizerModel(config)
        self.assertIs(model.get_input_embeddings(), model.encoder.embeddings.patch_embeddings)
        self.assertIsNone(model.get_output_embeddings())


_skip_common_tests(LaBraMTokenizerModelTest, _TOKENIZER_SKIPS)
