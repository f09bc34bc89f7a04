"""ONNX export of LaBraM models (classifier logits or the backbone's pooled embedding).

>>> from labram_hf.onnx_export import export_onnx
>>> export_onnx("my-model", "model.onnx", output="auto")      # logits for a classifier, else pooler_output

The graph has two inputs, ``input_values`` float32 [batch, channels, time] (model units, ``time`` a multiple of
``patch_size`` and at most ``max_time_patches`` patches) and ``channel_ids`` int64 [batch, channels], with the
batch, channel and time axes dynamic, and one output, ``logits`` [batch, num_labels] or ``pooler_output``
[batch, hidden_size]. Input checks of the PyTorch model (channel-id range, patch count) are not part of the graph:
callers must respect the contract.

Exporters (``torch.onnx.export`` in torch 2.13):

* ``"torchscript"`` (default): the legacy TorchScript tracer (``dynamo=False``, dynamic axes by name). Works with
  only ``onnx`` installed, exports in about a second, matches PyTorch within ~1e-6 at any shape. Deprecated by
  torch (it warns; the warnings are silenced here) but still shipped in 2.13.
* ``"dynamo"``: the ``torch.export``-based exporter (``dynamo=True``, ``torch.export.Dim`` per axis). Also exact
  (~1e-6), but needs the ``onnxscript`` package (not a labram-hf dependency) and takes ~20 s for a small model.

Attention is exported with the eager implementation (plain MatMul/Softmax), which every runtime supports.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Literal

import torch

from .errors import LaBraMError

__all__ = ["EXPORTERS", "OUTPUTS", "LaBraMOnnxWrapper", "OnnxExportError", "export_onnx", "load_for_export"]

EXPORTERS = ("torchscript", "dynamo")
OUTPUTS = ("auto", "logits", "pooler_output")
DEFAULT_OPSET = 18


class OnnxExportError(LaBraMError):
    """A user-facing problem; ``hint`` says what to do."""


class LaBraMOnnxWrapper(torch.nn.Module):
    """``(input_values, channel_ids) -> logits`` (classifier) or ``-> pooler_output`` (backbone)."""

    def __init__(self, model: torch.nn.Module, output: Literal["logits", "pooler_output"]):
        super().__init__()
        self.model = model
        self.output = output

    def forward(self, input_values: torch.Tensor, channel_ids: torch.Tensor) -> torch.Tensor:
        result = self.model(input_values=input_values, channel_ids=channel_ids, return_dict=True)
        return result.logits if self.output == "logits" else result.pooler_output


def load_for_export(model_or_dir, output: str = "auto") -> tuple[torch.nn.Module, str]:
    """The model to export (eager attention, eval mode) and the resolved output name."""
    from . import LaBraMForSequenceClassification, LaBraMModel  # registers the Auto classes

    if output not in OUTPUTS:
        raise OnnxExportError(f"unknown output {output!r}; choose one of {OUTPUTS}")
    if isinstance(model_or_dir, torch.nn.Module):
        model = copy.deepcopy(model_or_dir)
    else:
        from transformers import AutoConfig
        from transformers.utils import logging as hf_logging

        from .inference import InferenceError, load_model_strict

        path = Path(model_or_dir)
        if not (path / "config.json").is_file():
            raise OnnxExportError(f"{path} is not a model directory (no config.json)",
                                  hint="pass a directory written by `labram convert` or save_pretrained")  # fmt: skip
        try:
            config = AutoConfig.from_pretrained(str(path))
        except (OSError, ValueError) as err:
            raise OnnxExportError(
                f"cannot read {path / 'config.json'}: {' '.join(str(err).split())[:300]}",
                hint="pass a directory written by `labram convert` or save_pretrained",
            ) from None
        if config.model_type != "labram":
            raise OnnxExportError(f"{path} holds a {config.model_type!r} model; only LaBraM encoders and "
                                  "classifiers export to ONNX", hint="pass a LaBraM model directory")  # fmt: skip
        is_classifier = any("SequenceClassification" in a for a in (config.architectures or []))
        if output == "auto":
            output = "logits" if is_classifier else "pooler_output"
        if output == "logits" and not is_classifier:
            raise OnnxExportError(f"{path} is not a fine-tuned classifier; it has no logits",
                                  hint="use --output pooler_output for embeddings")  # fmt: skip
        previous = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:  # strict: missing or unknown weights are an error, never random layers in the graph
            model = load_model_strict(path, head="classifier" if output == "logits" else "backbone",
                                      attn_implementation="eager")  # fmt: skip
        except InferenceError as err:
            raise OnnxExportError(str(err), hint=err.hint) from None
        finally:
            hf_logging.set_verbosity(previous)
    if isinstance(model, LaBraMForSequenceClassification):
        if output == "auto":
            output = "logits"
        if output == "pooler_output":
            model = model.labram
    elif isinstance(model, LaBraMModel):
        if output == "auto":
            output = "pooler_output"
        if output == "logits":
            raise OnnxExportError("a bare LaBraMModel has no logits", hint="export pooler_output")
    else:
        raise OnnxExportError(f"cannot export a {type(model).__name__}; export a LaBraMModel or a classifier")
    model.set_attn_implementation("eager")
    return model.eval(), output


def export_onnx(
    model_or_dir,
    path: str | os.PathLike,
    output: str = "auto",
    exporter: str = "torchscript",
    opset: int = DEFAULT_OPSET,
    example_channels: int = 19,
    example_patches: int = 4,
) -> Path:
    """Export ``model_or_dir`` to ``path`` (a single ``.onnx`` file, weights embedded); returns the path."""
    if exporter not in EXPORTERS:
        raise OnnxExportError(f"unknown exporter {exporter!r}; choose one of {EXPORTERS}")
    model, output = load_for_export(model_or_dir, output)
    wrapper = LaBraMOnnxWrapper(model, output).eval()
    config = model.config
    patches = min(example_patches, config.max_time_patches)
    example = (
        torch.randn(2, example_channels, patches * config.patch_size),
        torch.arange(example_channels, dtype=torch.long).unsqueeze(0).repeat(2, 1) % config.num_electrodes,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = dict(input_names=["input_values", "channel_ids"], output_names=[output])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(
                wrapper, example, str(path), dynamo=False, opset_version=opset, do_constant_folding=True,
                dynamic_axes={
                    "input_values": {0: "batch", 1: "channels", 2: "time"},
                    "channel_ids": {0: "batch", 1: "channels"},
                    output: {0: "batch"},
                },
                **names,
            )  # fmt: skip
        else:
            try:
                import onnxscript  # noqa: F401
            except ImportError:
                raise OnnxExportError("the dynamo exporter needs the onnxscript package",
                                      hint="pip install onnxscript, or use --exporter torchscript") from None  # fmt: skip
            batch, channels, time = (torch.export.Dim(n) for n in ("batch", "channels", "time"))
            program = torch.onnx.export(
                wrapper, example, dynamo=True, opset_version=opset, verbose=False,
                dynamic_shapes={"input_values": {0: batch, 1: channels, 2: time}, "channel_ids": {0: batch, 1: channels}},
                **names,
            )  # fmt: skip
            # the saver infers the file format from the extension: write `*.onnx`, then move to `path` if needed
            onnx_path = path if path.suffix == ".onnx" else path.with_name(path.name + ".onnx")
            program.save(str(onnx_path), external_data=False)
            if onnx_path != path:
                os.replace(onnx_path, path)
    wrapper.eval()  # the exporter restores the training flag it found; keep the caller's model in eval
    return path
