# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""PyTorch LaBraM: the Large Brain Model for EEG (Jiang et al., ICLR 2024) and its VQ-NSP neural tokenizer.

The classes reproduce the original implementation numerically (see the parity tests). Input contract of every model:

* ``input_values``: float tensor [batch, channels, time] in model units (microvolts / 100), sampled at 200 Hz, with
  ``time`` a whole number of 200-sample patches, at most ``config.max_time_patches`` of them. The original layout
  [batch, channels, patches, patch_size] is accepted as well.
* ``channel_ids``: long tensor [batch, channels] or [channels]: positions of the electrodes in the 128-name
  vocabulary (``labram_hf.LABRAM_CHANNELS``); the model adds the offset of the cls row itself.
* ``channel_mask`` (optional): bool tensor [batch, channels], ``True`` for real channels and ``False`` for padding.
  The values of padded channels are replaced by zeros before use (a select, so NaN or Inf padding is harmless), and
  padded channels are excluded from the temporal convolution's GroupNorm statistics, from attention (as keys), from
  pooling and from losses, so a padded sample gives the same outputs as the sample alone. Every sample needs at
  least one real channel.

Non-finite values (NaN, Inf) in real channels raise a ``ValueError`` (on accelerators an asynchronous device assert,
so that no host synchronisation is added). The data-dependent checks are skipped while tracing for ``torch.compile``,
``torch.export`` or the TorchScript ONNX exporter.

Longer inputs: every forward takes ``interpolate_pos_encoding`` (the ViT / BEiT convention). With ``True``, inputs of
more than ``max_time_patches`` patches get the temporal embedding table linearly interpolated to their patch count
(``F.interpolate(mode="linear", align_corners=False)``); inputs that fit use the first rows of the table, exactly as
without the flag. This is an extension: the original model stops at 16 patches (16 s).

Patch tokens are channel-major: token ``c * num_patches + a`` holds patch ``a`` of channel ``c``.

This file imports only torch, transformers and its sibling configuration, so the same bytes are the Hub remote code.
"""

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling, SequenceClassifierOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, PreTrainedModel
from transformers.utils import ModelOutput, is_torchdynamo_compiling

from .configuration_labram import LaBraMConfig, LaBraMTokenizerConfig


# Files that make up the remote code, copied next to every saved checkpoint.
_REMOTE_CODE_FILES = ("configuration_labram.py", "modeling_labram.py")
# The pipelines' remote code that `config.custom_pipelines` refers to (written by labram_hf, not by these files).
_PIPELINE_CODE_FILE = "pipeline_labram.py"


class _RemoteCodeMixin:
    """
    Saving writes the modeling files and a config `auto_map` naming every class, so that
    `AutoModel.from_pretrained(dir, trust_remote_code=True)` works where labram_hf is not installed. (transformers'
    own `register_for_auto_class` mangles auto_map entries of classes whose name contains "Tokenizer", and records
    only the saving class, hence the explicit map.)
    """

    _auto_map: dict = {}

    def save_pretrained(self, save_directory, *args, is_main_process: bool = True, **kwargs):
        self.config.auto_map = dict(self._auto_map)
        # A config loaded from a directory with pipeline code carries `custom_pipelines`, which name a file these
        # modeling files do not include: saved elsewhere it would point at code that is not there.
        pipelines = self.config.__dict__.get("custom_pipelines")
        if pipelines is not None and not os.path.isfile(os.path.join(save_directory, _PIPELINE_CODE_FILE)):
            del self.config.custom_pipelines
        try:
            super().save_pretrained(save_directory, *args, is_main_process=is_main_process, **kwargs)
        finally:
            if pipelines is not None:
                self.config.custom_pipelines = pipelines
        if is_main_process:
            source = os.path.dirname(os.path.abspath(__file__))
            for name in _REMOTE_CODE_FILES:
                shutil.copyfile(os.path.join(source, name), os.path.join(save_directory, name))


# ----------------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class LaBraMMaskedEEGModelingOutput(ModelOutput):
    r"""
    Output of [`LaBraMForMaskedEEGModeling`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            Symmetric masked EEG modelling loss: cross-entropy over the masked positions of the first pass plus
            cross-entropy over the complementary positions of the second pass.
        logits (`torch.FloatTensor` of shape `(batch_size, channels * patches, vocab_size)`):
            Codebook logits of the first pass (mask = `bool_masked_pos`) at every patch position.
        symmetric_logits (`torch.FloatTensor` of shape `(batch_size, channels * patches, vocab_size)`, *optional*):
            Codebook logits of the second pass (mask = `~bool_masked_pos`) at every patch position.
        hidden_states, attentions: of the first pass, as in [`LaBraMModel`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    symmetric_logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class LaBraMTokenizerOutput(ModelOutput):
    r"""
    Output of [`LaBraMTokenizerModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`): `quantization_loss + amplitude_loss + phase_loss`.
        quantization_loss, amplitude_loss, phase_loss (`torch.FloatTensor` of shape `()`): the three loss terms
            (commitment MSE weighted by `beta`; MSE of the standardised Fourier amplitude and phase).
        token_ids (`torch.LongTensor` of shape `(batch_size, channels * patches)`): codebook indices, channel-major.
        quantized (`torch.FloatTensor` of shape `(batch_size, channels * patches, code_dim)`): straight-through
            quantised vectors fed to the decoder.
        encoder_features (`torch.FloatTensor` of shape `(batch_size, channels * patches, code_dim)`): output of the
            encoder head before l2 normalisation.
        amplitude_reconstruction, phase_reconstruction (`torch.FloatTensor` of shape
            `(batch_size, channels * patches, patch_size)`): decoder predictions.
        amplitude_target, phase_target (`torch.FloatTensor` of shape `(batch_size, channels, patches, patch_size)`):
            standardised Fourier amplitude and phase of every patch.
    """

    loss: torch.FloatTensor | None = None
    quantization_loss: torch.FloatTensor | None = None
    amplitude_loss: torch.FloatTensor | None = None
    phase_loss: torch.FloatTensor | None = None
    token_ids: torch.LongTensor | None = None
    quantized: torch.FloatTensor | None = None
    encoder_features: torch.FloatTensor | None = None
    amplitude_reconstruction: torch.FloatTensor | None = None
    phase_reconstruction: torch.FloatTensor | None = None
    amplitude_target: torch.FloatTensor | None = None
    phase_target: torch.FloatTensor | None = None


# ----------------------------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------------------------


def _check_values() -> bool:
    """Whether data-dependent input checks run: not while tracing (torch.compile / torch.export / jit tracing)."""
    return not is_torchdynamo_compiling() and not torch.jit.is_tracing()


def _check_finite_and_padding(input_values: torch.Tensor, channel_mask: torch.Tensor | None) -> None:
    """
    `input_values` [B, C, T] (padded channels already zeroed) must be finite, and every row of `channel_mask` must
    hold a real channel. On CPU a `ValueError` names the sample (and channel); on accelerators the checks are
    asynchronous device asserts (no host synchronisation).
    """
    if input_values.device.type != "cpu":
        torch._assert_async(torch.isfinite(input_values).all(), "input_values holds NaN or Inf in a real channel")
        if channel_mask is not None:
            torch._assert_async(channel_mask.any(dim=1).all(), "a sample of channel_mask has no real channel")
        return
    if channel_mask is not None:
        empty = (~channel_mask.any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(
                f"`channel_mask` marks every channel of batch index {empty[0]} as padding (all-padded samples: "
                f"{empty[:10]}); every sample needs at least one real channel (True). Drop empty samples from the "
                "batch."
            )
    finite = torch.isfinite(input_values)
    if not bool(finite.all()):
        bad = (~finite).any(dim=-1).nonzero()  # [K, 2]: (batch index, channel index) of the bad channels
        sample, channel = (int(i) for i in bad[0])
        count = int((~finite[sample, channel]).sum())
        raise ValueError(
            f"`input_values` holds non-finite values (NaN or Inf) at batch index {sample}, channel {channel} "
            f"({count} samples; {bad.shape[0]} channel(s) affected in the batch). Clean or interpolate the "
            "recording, or mark the channel as padding with `channel_mask` (padded channels are ignored)."
        )


def _prepare_inputs(
    config,
    input_values: torch.Tensor | None,
    channel_ids: torch.Tensor | None,
    channel_mask: torch.Tensor | None = None,
    bool_masked_pos: torch.Tensor | None = None,
    interpolate_pos_encoding: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """
    Validate the input contract and return (patches [B, C, A, P], channel_ids [B, C], channel_mask [B, C]); the
    patches of padded channels are zeros.
    """
    if input_values is None:
        raise ValueError("You have to specify `input_values` (EEG of shape [batch, channels, time]).")
    patch_size = config.patch_size
    if input_values.dim() == 4:
        if input_values.shape[-1] != patch_size:
            raise ValueError(
                f"4-D `input_values` must be [batch, channels, patches, {patch_size}], got {tuple(input_values.shape)}."
            )
        input_values = input_values.flatten(2)  # [batch, channels, patches * patch_size]
    if input_values.dim() != 3:
        raise ValueError(
            f"`input_values` must have shape [batch, channels, time], got {tuple(input_values.shape)}."
        )
    batch_size, num_channels, num_samples = input_values.shape
    if num_samples % patch_size != 0 or num_samples == 0:
        raise ValueError(
            f"The time axis of `input_values` ({num_samples} samples) must be a positive multiple of patch_size "
            f"({patch_size} samples = 1 s at {config.sampling_rate} Hz); crop or pad the recording to whole seconds."
        )
    num_patches = num_samples // patch_size
    if num_patches > config.max_time_patches and not interpolate_pos_encoding:
        raise ValueError(
            f"`input_values` holds {num_patches} patches per channel ({num_samples} samples), but the model has "
            f"temporal embeddings for at most max_time_patches={config.max_time_patches}; cut the recording into "
            f"windows of at most {config.max_time_patches * patch_size} samples, or pass "
            "`interpolate_pos_encoding=True` to interpolate the temporal embeddings to the longer input (an "
            "extension of the original model)."
        )
    if channel_ids is None:
        raise ValueError(
            "You have to specify `channel_ids`: the vocabulary positions of the input's electrodes, e.g. "
            "`labram_hf.channel_ids(['FP1', 'FP2', ...])`."
        )
    if channel_ids.dtype.is_floating_point or channel_ids.dtype == torch.bool:
        raise ValueError(f"`channel_ids` must be an integer tensor, got dtype {channel_ids.dtype}.")
    if channel_ids.dim() == 1:
        channel_ids = channel_ids.unsqueeze(0).expand(batch_size, -1)  # [batch, channels]
    if channel_ids.shape != (batch_size, num_channels):
        raise ValueError(
            f"`channel_ids` must have shape [batch, channels] = [{batch_size}, {num_channels}] or [channels], "
            f"got {tuple(channel_ids.shape)}."
        )
    if _check_values():
        if channel_ids.device.type == "cpu":
            if channel_ids.numel() and (int(channel_ids.min()) < 0 or int(channel_ids.max()) >= config.num_electrodes):
                raise ValueError(
                    f"`channel_ids` must lie in [0, {config.num_electrodes}) (the electrode vocabulary), got values "
                    f"from {int(channel_ids.min())} to {int(channel_ids.max())}."
                )
        else:  # no host synchronisation on accelerators
            torch._assert_async(
                ((channel_ids >= 0) & (channel_ids < config.num_electrodes)).all(),
                "channel_ids out of the electrode vocabulary range",
            )
    if channel_mask is not None:
        if channel_mask.shape != (batch_size, num_channels):
            raise ValueError(
                f"`channel_mask` must have shape [batch, channels] = [{batch_size}, {num_channels}], "
                f"got {tuple(channel_mask.shape)}."
            )
        channel_mask = channel_mask.bool()
        # A select, not a product: NaN or Inf in padded channels cannot reach any result.
        input_values = input_values.masked_fill(~channel_mask.unsqueeze(-1), 0.0)  # [batch, channels, time]
    if _check_values():
        _check_finite_and_padding(input_values, channel_mask)
    if bool_masked_pos is not None:
        expected = (batch_size, num_channels * num_patches)
        if bool_masked_pos.shape != expected:
            raise ValueError(
                f"`bool_masked_pos` must have shape [batch, channels * patches] = {list(expected)} (channel-major), "
                f"got {tuple(bool_masked_pos.shape)}."
            )
    patches = input_values.view(batch_size, num_channels, num_patches, patch_size)  # [batch, channels, patches, P]
    return patches, channel_ids, channel_mask


def _patch_mask(channel_mask: torch.Tensor | None, num_patches: int) -> torch.Tensor | None:
    """Expand a channel mask [B, C] to the channel-major patch tokens [B, C * A]."""
    if channel_mask is None:
        return None
    batch_size, num_channels = channel_mask.shape
    return channel_mask.unsqueeze(-1).expand(batch_size, num_channels, num_patches).reshape(batch_size, -1)


def _attention_mask(token_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Additive key-padding mask [B, 1, 1, 1 + L] from a patch-token mask [B, L] (the cls token is always valid)."""
    if token_mask is None:
        return None
    keep = torch.cat([token_mask.new_ones(token_mask.shape[0], 1), token_mask], dim=1)  # [batch, 1 + L]
    mask = torch.zeros(keep.shape, dtype=dtype, device=keep.device)
    mask = mask.masked_fill(~keep, torch.finfo(dtype).min)
    return mask[:, None, None, :]  # [batch, 1, 1, 1 + L]


# ----------------------------------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------------------------------


def _masked_group_norm(hidden_states: torch.Tensor, norm: nn.GroupNorm, token_mask: torch.Tensor) -> torch.Tensor:
    """GroupNorm over [B, K, L, T] whose statistics use only the tokens where `token_mask` [B, L] is True."""
    batch_size, num_channels, num_tokens, num_steps = hidden_states.shape
    groups = norm.num_groups
    grouped = hidden_states.view(batch_size, groups, num_channels // groups, num_tokens, num_steps)  # [B, G, K/G, L, T]
    weight = token_mask.to(hidden_states.dtype)[:, None, None, :, None]  # [B, 1, 1, L, 1]
    count = weight.sum(dim=(2, 3, 4), keepdim=True) * (num_channels // groups) * num_steps
    mean = (grouped * weight).sum(dim=(2, 3, 4), keepdim=True) / count
    var = (((grouped - mean) * weight) ** 2).sum(dim=(2, 3, 4), keepdim=True) / count
    normed = ((grouped - mean) / torch.sqrt(var + norm.eps)).view_as(hidden_states)
    return normed * norm.weight[None, :, None, None] + norm.bias[None, :, None, None]


class LaBraMTemporalConv(nn.Module):
    """
    The patch encoder: three (conv -> GroupNorm -> GELU) stages over the time axis of every 200-sample patch.

    All patches of a sample form one image [1, channels * patches, 200], so the GroupNorm statistics of a sample are
    taken over all of its patches at once (as in the original). The result per patch is flattened time-major,
    feature index = t * K + k.
    """

    def __init__(self, config):
        super().__init__()
        channels = config.temporal_conv_channels
        self.conv1 = nn.Conv2d(1, channels, kernel_size=(1, 15), stride=(1, 8), padding=(0, 7))
        self.norm1 = nn.GroupNorm(config.temporal_conv_groups, channels, eps=config.temporal_conv_norm_eps)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=(1, 3), padding=(0, 1))
        self.norm2 = nn.GroupNorm(config.temporal_conv_groups, channels, eps=config.temporal_conv_norm_eps)
        self.conv3 = nn.Conv2d(channels, channels, kernel_size=(1, 3), padding=(0, 1))
        self.norm3 = nn.GroupNorm(config.temporal_conv_groups, channels, eps=config.temporal_conv_norm_eps)
        self.activation = nn.GELU()

    def forward(self, patches: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch_size, num_channels, num_patches, patch_size = patches.shape
        hidden_states = patches.reshape(batch_size, 1, num_channels * num_patches, patch_size)  # [B, 1, L, P]
        for conv, norm in ((self.conv1, self.norm1), (self.conv2, self.norm2), (self.conv3, self.norm3)):
            hidden_states = conv(hidden_states)
            if token_mask is None:
                hidden_states = norm(hidden_states)
            else:
                hidden_states = _masked_group_norm(hidden_states, norm, token_mask)
            hidden_states = self.activation(hidden_states)
        # [B, K, L, T] -> [B, L, T, K] -> [B, L, T * K]
        hidden_states = hidden_states.permute(0, 2, 3, 1)
        return hidden_states.reshape(batch_size, num_channels * num_patches, -1)


def interpolate_time_embeddings(time_embeddings: torch.Tensor, num_patches: int) -> torch.Tensor:
    """
    The temporal embedding rows [1, num_patches, D] for inputs of `num_patches` patches, from a table
    [1, max_time_patches, D].

    Up to `max_time_patches` patches this is the first `num_patches` rows (exactly the original model). Beyond, the
    whole table is linearly interpolated along time to `num_patches` rows with `F.interpolate(mode="linear",
    align_corners=False)` (transformers' ViT convention; the first and last rows of the result equal those of the
    table, and the table is stretched uniformly in between). Half-precision tables are interpolated in float32.
    """
    max_patches = time_embeddings.shape[1]
    if num_patches <= max_patches:
        return time_embeddings[:, :num_patches]
    compute_dtype = torch.promote_types(time_embeddings.dtype, torch.float32)
    table = time_embeddings.to(compute_dtype).transpose(1, 2)  # [1, D, max_time_patches]
    table = F.interpolate(table, size=num_patches, mode="linear", align_corners=False)  # [1, D, num_patches]
    return table.transpose(1, 2).to(time_embeddings.dtype)  # [1, num_patches, D]


def _add_positions(
    cls_tokens: torch.Tensor,
    patch_embeddings: torch.Tensor,
    channel_ids: torch.Tensor,
    num_patches: int,
    position_embeddings: torch.Tensor,
    time_embeddings: torch.Tensor,
    cls_from_first_channel: bool = False,
    interpolate_pos_encoding: bool = False,
) -> torch.Tensor:
    """
    Add spatial and temporal embeddings to the cls tokens [B, 1, D] and the channel-major patch tokens [B, L, D];
    returns the token sequence [B, 1 + L, D] (cls first).

    The spatial row of channel c is `position_embeddings[channel_ids[c] + 1]`; the cls token gets row 0, or with
    `cls_from_first_channel` the row of the first input channel (the original pre-training code's quirk). The
    spatial term is added first, then the temporal one, as in the original (the order matters at 1e-7). Patch `a`
    gets temporal row `a`; with `interpolate_pos_encoding`, inputs longer than the table get the interpolated
    table ([`interpolate_time_embeddings`]).
    """
    batch_size, _, hidden_size = patch_embeddings.shape
    num_channels = channel_ids.shape[1]
    if num_patches > time_embeddings.shape[1] and not interpolate_pos_encoding:
        raise ValueError(
            f"{num_patches} patches per channel exceed the {time_embeddings.shape[1]} temporal embeddings; pass "
            "`interpolate_pos_encoding=True` to interpolate them."
        )
    channel_rows = position_embeddings[0, channel_ids + 1]  # [B, C, D]
    patch_times = interpolate_time_embeddings(time_embeddings, num_patches)  # [1, A, D]
    # Broadcast additions (no expanded copies of the tables), in the original's order: spatial, then temporal.
    patches = patch_embeddings.reshape(batch_size, num_channels, num_patches, hidden_size)  # [B, C, A, D]
    patches = (patches + channel_rows.unsqueeze(2)) + patch_times.unsqueeze(1)  # [B, C, A, D]
    cls_position = channel_rows[:, :1] if cls_from_first_channel else position_embeddings[:, :1]  # [B or 1, 1, D]
    cls_tokens = cls_tokens + cls_position  # [B, 1, D]; the cls token has no temporal embedding
    return torch.cat([cls_tokens, patches.reshape(batch_size, num_channels * num_patches, hidden_size)], dim=1)


class LaBraMEmbeddings(nn.Module):
    """Temporal-conv patch embeddings, optional mask token, cls token, spatial and temporal embeddings."""

    def __init__(self, config, use_mask_token: bool = False):
        super().__init__()
        self.patch_embeddings = LaBraMTemporalConv(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size)) if use_mask_token else None
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_electrodes + 1, config.hidden_size))
        self.time_embeddings = nn.Parameter(torch.zeros(1, config.max_time_patches, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        patches: torch.Tensor,
        channel_ids: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        token_mask: torch.Tensor | None = None,
        cls_from_first_channel: bool = False,
        interpolate_pos_encoding: bool = False,
    ) -> torch.Tensor:
        batch_size, _, num_patches, _ = patches.shape
        embeddings = self.patch_embeddings(patches, token_mask)  # [B, L, D]
        if bool_masked_pos is not None:
            if self.mask_token is None:
                raise ValueError("`bool_masked_pos` needs a model built with a mask token (LaBraMForMaskedEEGModeling).")
            # A select (the same numbers as the original's blend with a 0/1 weight, without 0 * inf = NaN)
            masked = bool_masked_pos.bool().unsqueeze(-1)  # [B, L, 1]
            embeddings = torch.where(masked, self.mask_token, embeddings)
        cls_tokens = self.cls_token.expand(batch_size, -1, -1)  # [B, 1, D]
        embeddings = _add_positions(
            cls_tokens,
            embeddings,
            channel_ids,
            num_patches,
            self.position_embeddings,
            self.time_embeddings,
            cls_from_first_channel=cls_from_first_channel,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )  # [B, 1 + L, D]
        return self.dropout(embeddings)


# ----------------------------------------------------------------------------------------------------------------------
# Transformer blocks
# ----------------------------------------------------------------------------------------------------------------------


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    # The original scales the queries before the product (after the qk norm); keep that order.
    attn_weights = torch.matmul(query * scaling, key.transpose(-2, -1))  # [B, H, N, N]
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value)  # [B, H, N, d]
    attn_output = attn_output.transpose(1, 2).contiguous()  # [B, N, H, d]
    return attn_output, attn_weights


def drop_path(hidden_states: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth per sample (residual branch dropped for a whole sample)."""
    if drop_prob == 0.0 or not training:
        return hidden_states
    keep_prob = 1 - drop_prob
    shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)
    random_tensor = keep_prob + torch.rand(shape, dtype=hidden_states.dtype, device=hidden_states.device)
    random_tensor.floor_()  # binarize
    return hidden_states.div(keep_prob) * random_tensor


class LaBraMDropPath(nn.Module):
    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return drop_path(hidden_states, self.drop_prob, self.training)

    def sample_scale(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        """
        The per-sample factor [B, 1, 1] that `forward` multiplies by (0 for a dropped sample, 1 / keep_prob
        otherwise), drawn from the same random numbers; None when inactive (eval mode or p = 0).
        """
        if self.drop_prob == 0.0 or not self.training:
            return None
        keep_prob = 1 - self.drop_prob
        shape = (hidden_states.shape[0],) + (1,) * (hidden_states.ndim - 1)
        random_tensor = keep_prob + torch.rand(shape, dtype=hidden_states.dtype, device=hidden_states.device)
        return random_tensor.floor_().div_(keep_prob)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class LaBraMSelfAttention(nn.Module):
    """
    Multi-head self-attention with a fused qkv projection, optional q/v biases (the k bias is fixed at zero) and
    optional per-head LayerNorm of queries and keys applied before scaling.
    """

    def __init__(self, config, layer_idx: int = 0):
        super().__init__()
        self.config = config
        self.num_attention_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_probs_dropout_prob
        self.is_causal = False
        self.layer_idx = layer_idx

        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        if config.qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(config.hidden_size))
            self.v_bias = nn.Parameter(torch.zeros(config.hidden_size))
        else:
            self.q_bias = None
            self.v_bias = None
        if config.use_qk_norm:
            self.q_norm = nn.LayerNorm(self.head_dim, eps=config.layer_norm_eps)
            self.k_norm = nn.LayerNorm(self.head_dim, eps=config.layer_norm_eps)
        else:
            self.q_norm = None
            self.k_norm = None
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense.init_std_scale = 1.0 / math.sqrt(2.0 * (layer_idx + 1))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def _project_qkv(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """
        The fused projection [B, N, D] -> [B, N, 3 D] plus the q / zero k / v bias. A plain `nn.Linear` without
        hooks runs as one GEMM with the bias (as the original's `F.linear`); anything else (PEFT adapters,
        `quantize_dynamic` replacements, hooked modules) is called as a module and the bias added afterwards.
        """
        projection = self.qkv
        if self.q_bias is None:
            return projection(hidden_states)
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])  # [3 D], k part exactly 0
        plain = (
            type(projection) is nn.Linear
            and projection.bias is None
            and not (projection._forward_hooks or projection._forward_pre_hooks)
            and not (nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks)
        )
        if plain:
            return F.linear(hidden_states, projection.weight, bias)
        return projection(hidden_states) + bias

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, seq_len, hidden_size = hidden_states.shape
        qkv = self._project_qkv(hidden_states)  # [B, N, 3 D]
        qkv = qkv.reshape(batch_size, seq_len, 3, self.num_attention_heads, self.head_dim)  # [B, N, 3, H, d]
        # Views, no copies: the qk norms work per head vector, so they run in this token-major layout, and the
        # gradient of `unbind` is a stack straight into the projection's layout.
        query, key, value = qkv.unbind(2)  # 3 x [B, N, H, d]
        if self.q_norm is not None:
            query = self.q_norm(query)
            key = self.k_norm(key)
        query, key, value = query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2)  # 3 x [B, H, N, d]

        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        if output_attentions:
            attention_interface = eager_attention_forward
        attn_output, attn_weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            scaling=self.scaling,
            dropout=0.0 if not self.training else self.attention_dropout,
        )
        attn_output = attn_output.reshape(batch_size, seq_len, hidden_size)  # [B, N, D]
        attn_output = self.dropout(self.dense(attn_output))
        return attn_output, attn_weights


class LaBraMMLP(nn.Module):
    def __init__(self, config, layer_idx: int = 0):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.fc2.init_std_scale = 1.0 / math.sqrt(2.0 * (layer_idx + 1))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.activation(self.fc1(hidden_states)))
        return self.dropout(self.fc2(hidden_states))


class LaBraMLayer(GradientCheckpointingLayer):
    """Pre-norm transformer block with optional layer scale (`lambda_1`, `lambda_2`) and stochastic depth."""

    def __init__(self, config, layer_idx: int = 0, drop_path_rate: float = 0.0):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = LaBraMSelfAttention(config, layer_idx=layer_idx)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = LaBraMMLP(config, layer_idx=layer_idx)
        self.drop_path = LaBraMDropPath(drop_path_rate) if drop_path_rate > 0.0 else nn.Identity()
        if config.layer_scale_init_value > 0:
            self.lambda_1 = nn.Parameter(torch.full((config.hidden_size,), float(config.layer_scale_init_value)))
            self.lambda_2 = nn.Parameter(torch.full((config.hidden_size,), float(config.layer_scale_init_value)))
        else:
            self.lambda_1, self.lambda_2 = None, None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attention_output, attention_weights = self.attention(
            self.layernorm_before(hidden_states), attention_mask, output_attentions=output_attentions
        )
        hidden_states = self._add_residual(hidden_states, attention_output, self.lambda_1)
        mlp_output = self.mlp(self.layernorm_after(hidden_states))
        hidden_states = self._add_residual(hidden_states, mlp_output, self.lambda_2)
        return hidden_states, attention_weights

    def _add_residual(
        self, hidden_states: torch.Tensor, branch_output: torch.Tensor, layer_scale: torch.Tensor | None
    ) -> torch.Tensor:
        """
        `hidden_states + drop_path(layer_scale * branch_output)` [B, N, D]. The layer scale [D] and the per-sample
        stochastic-depth factor [B, 1, 1] are folded into one small factor, so that the branch costs one fused
        multiply-add pass instead of up to four elementwise passes (same numbers up to float rounding).
        """
        if not isinstance(self.drop_path, (LaBraMDropPath, nn.Identity)):  # a replaced module: apply it as is
            branch_output = branch_output if layer_scale is None else layer_scale * branch_output
            return hidden_states + self.drop_path(branch_output)
        scale = layer_scale  # [D] or None
        if isinstance(self.drop_path, LaBraMDropPath):
            sample_scale = self.drop_path.sample_scale(hidden_states)  # [B, 1, 1] or None
            if sample_scale is not None:
                scale = sample_scale if scale is None else scale * sample_scale  # [B, 1, D]
        if scale is None:
            return hidden_states + branch_output
        return torch.addcmul(hidden_states, branch_output, scale)


class LaBraMEncoder(nn.Module):
    def __init__(self, config, num_layers: int | None = None):
        super().__init__()
        num_layers = config.num_hidden_layers if num_layers is None else num_layers
        # Stochastic depth rises linearly from 0 to drop_path_rate (computed in Python: no tensors, compile-friendly).
        rates = [config.drop_path_rate * i / (num_layers - 1) if num_layers > 1 else 0.0 for i in range(num_layers)]
        self.layer = nn.ModuleList(
            [LaBraMLayer(config, layer_idx=i, drop_path_rate=rates[i]) for i in range(num_layers)]
        )
        self.gradient_checkpointing = False

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, attention_weights = layer(hidden_states, attention_mask, output_attentions)
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
            if output_attentions:
                all_attentions = all_attentions + (attention_weights,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class LaBraMPooler(nn.Module):
    """LayerNorm of the mean over patch tokens (the original `fc_norm`), or of the cls token without mean pooling."""

    def __init__(self, config):
        super().__init__()
        self.use_mean_pooling = config.use_mean_pooling
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, token_mask: torch.Tensor | None = None) -> torch.Tensor:
        if not self.use_mean_pooling:
            return self.layernorm(hidden_states[:, 0])
        patch_tokens = hidden_states[:, 1:]  # [B, L, D]
        if token_mask is None:
            pooled = patch_tokens.mean(dim=1)
        else:
            weight = token_mask.unsqueeze(-1).to(patch_tokens.dtype)  # [B, L, 1]
            pooled = (patch_tokens * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1)
        return self.layernorm(pooled)


# ----------------------------------------------------------------------------------------------------------------------
# Pre-trained model base classes
# ----------------------------------------------------------------------------------------------------------------------


def _init_labram_module(module: nn.Module, std: float) -> None:
    """Initialisation shared by both model families (the original's `_init_weights` + `fix_init_weight`)."""
    if isinstance(module, nn.Linear):
        # `init_std_scale`: the original rescales the output projections of block i by 1/sqrt(2 (i + 1)) and the
        # classification head by `init_scale`; set on those layers (parents without own tensors are never visited).
        init.trunc_normal_(module.weight, std=std * getattr(module, "init_std_scale", 1.0))
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        # torch's default conv init (the original leaves the convolutions at their defaults).
        init.kaiming_uniform_(module.weight, a=math.sqrt(5))
        if module.bias is not None:
            fan_in = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(module.bias, -bound, bound)
    elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        init.ones_(module.weight)
        init.zeros_(module.bias)
    elif isinstance(module, LaBraMSelfAttention):
        if module.q_bias is not None:
            init.zeros_(module.q_bias)
            init.zeros_(module.v_bias)
    elif isinstance(module, LaBraMLayer):
        if module.lambda_1 is not None:
            value = float(module.attention.config.layer_scale_init_value)
            init.constant_(module.lambda_1, value)
            init.constant_(module.lambda_2, value)
    elif isinstance(module, (LaBraMEmbeddings, LaBraMDecoderEmbeddings)):
        init.trunc_normal_(module.cls_token, std=std)
        init.trunc_normal_(module.position_embeddings, std=std)
        init.trunc_normal_(module.time_embeddings, std=std)
        if getattr(module, "mask_token", None) is not None:
            init.trunc_normal_(module.mask_token, std=std)


class LaBraMPreTrainedModel(_RemoteCodeMixin, PreTrainedModel):
    _auto_map = {
        "AutoConfig": "configuration_labram.LaBraMConfig",
        "AutoModel": "modeling_labram.LaBraMModel",
        "AutoModelForSequenceClassification": "modeling_labram.LaBraMForSequenceClassification",
        "AutoModelForPreTraining": "modeling_labram.LaBraMForMaskedEEGModeling",
    }
    config_class = LaBraMConfig
    config: LaBraMConfig
    base_model_prefix = "labram"
    main_input_name = "input_values"
    input_modalities = ("time",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["LaBraMLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = False
    _can_compile_fullgraph = True
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        _init_labram_module(module, self.config.initializer_range)


class LaBraMModel(LaBraMPreTrainedModel):
    """
    The bare LaBraM transformer. `last_hidden_state` holds every token after the last block ([B, 1 + C*A, D], cls
    first); `pooler_output` is LayerNorm(mean of the patch tokens), the original fine-tuning model's `fc_norm`.
    """

    def __init__(self, config: LaBraMConfig, add_pooling_layer: bool = True, use_mask_token: bool = False):
        super().__init__(config)
        self.config = config
        self.embeddings = LaBraMEmbeddings(config, use_mask_token=use_mask_token)
        self.encoder = LaBraMEncoder(config)
        self.pooler = LaBraMPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        channel_mask: torch.Tensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cls_from_first_channel: bool = False,
        interpolate_pos_encoding: bool = False,
        **kwargs,
    ) -> tuple | BaseModelOutputWithPooling:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, channels, time)`):
            EEG in microvolts / 100 at 200 Hz; `time` a multiple of `patch_size`, at most `max_time_patches` patches
            (more with `interpolate_pos_encoding=True`). Must be finite in real channels.
        channel_ids (`torch.LongTensor` of shape `(batch_size, channels)` or `(channels,)`):
            Electrode vocabulary positions (`labram_hf.channel_ids(names)`).
        channel_mask (`torch.BoolTensor` of shape `(batch_size, channels)`, *optional*):
            `True` for real channels, `False` for padding (whose values, even NaN, are replaced by zeros and never
            reach the result). Every sample needs a real channel.
        bool_masked_pos (`torch.BoolTensor` of shape `(batch_size, channels * patches)`, *optional*):
            Patch tokens (channel-major) to replace by the mask token; needs `use_mask_token=True`.
        cls_from_first_channel (`bool`, *optional*, defaults to `False`):
            Give the cls token the spatial embedding of the first channel (the original pre-training quirk).
        interpolate_pos_encoding (`bool`, *optional*, defaults to `False`):
            Accept more than `max_time_patches` patches by linearly interpolating the temporal embeddings to the
            patch count (an extension of the original, which stops at 16 patches); shorter inputs are unaffected.
        """
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        patches, channel_ids, channel_mask = _prepare_inputs(
            self.config, input_values, channel_ids, channel_mask, bool_masked_pos, interpolate_pos_encoding
        )
        token_mask = _patch_mask(channel_mask, patches.shape[2])
        embedding_output = self.embeddings(
            patches.to(self.embeddings.cls_token.dtype),
            channel_ids,
            bool_masked_pos=bool_masked_pos,
            token_mask=token_mask,
            cls_from_first_channel=cls_from_first_channel,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )
        attention_mask = _attention_mask(token_mask, embedding_output.dtype)
        encoder_outputs = self.encoder(
            embedding_output,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        sequence_output = encoder_outputs.last_hidden_state
        pooled_output = self.pooler(sequence_output, token_mask) if self.pooler is not None else None

        if not return_dict:
            head_outputs = (sequence_output, pooled_output) if pooled_output is not None else (sequence_output,)
            return head_outputs + tuple(
                v for v in (encoder_outputs.hidden_states, encoder_outputs.attentions) if v is not None
            )
        return BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=pooled_output,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )


class LaBraMForSequenceClassification(LaBraMPreTrainedModel):
    """
    LaBraM with a linear head on the pooled output (the original fine-tuning model). `labels` give a loss following
    transformers' `problem_type` convention: regression (MSE), single-label classification (cross-entropy with
    `config.label_smoothing`) or multi-label classification (BCE with logits; a converted one-logit TUAB checkpoint
    uses this, as the original does).
    """

    _keys_to_ignore_on_load_unexpected = [r"layernorm\.", r"lm_head\.", r"embeddings\.mask_token"]

    def __init__(self, config: LaBraMConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.labram = LaBraMModel(config, add_pooling_layer=True)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        if isinstance(self.classifier, nn.Linear):
            self.classifier.init_std_scale = float(config.classifier_init_scale)
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        channel_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs,
    ) -> tuple | SequenceClassifierOutput:
        r"""
        input_values, channel_ids, channel_mask, interpolate_pos_encoding: as in [`LaBraMModel`].
        labels (`torch.LongTensor` of shape `(batch_size,)` or `torch.FloatTensor` of shape
            `(batch_size, num_labels)`, *optional*):
            Class indices (single-label), targets in {0, 1} (multi-label; `(batch_size,)` is accepted for one label)
            or regression targets.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.labram(
            input_values,
            channel_ids=channel_ids,
            channel_mask=channel_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )
        logits = self.classifier(outputs.pooler_output)

        loss = None
        if labels is not None:
            loss = self._compute_loss(logits, labels.to(logits.device))

        if not return_dict:
            output = (logits,) + tuple(v for v in (outputs.hidden_states, outputs.attentions) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    def _compute_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        problem_type = self.config.problem_type
        if problem_type is None:
            if self.num_labels == 1:
                problem_type = "regression"
            elif labels.dtype in (torch.long, torch.int):
                problem_type = "single_label_classification"
            else:
                problem_type = "multi_label_classification"
            self.config.problem_type = problem_type
        if problem_type == "regression":
            if self.num_labels == 1:
                return F.mse_loss(logits.squeeze(-1), labels.squeeze(-1).to(logits.dtype))
            return F.mse_loss(logits, labels.to(logits.dtype))
        if problem_type == "single_label_classification":
            return F.cross_entropy(
                logits.view(-1, self.num_labels),
                labels.view(-1).long(),
                label_smoothing=float(self.config.label_smoothing),
            )
        # multi-label: binary cross-entropy per logit; one-logit models accept labels of shape (batch_size,)
        return F.binary_cross_entropy_with_logits(logits, labels.reshape(logits.shape).to(logits.dtype))


def _twice(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """Stack a batch on itself along the batch axis ([B, ...] -> [2B, ...]), for the two symmetric passes."""
    return None if tensor is None else torch.cat([tensor, tensor], dim=0)


class LaBraMForMaskedEEGModeling(LaBraMPreTrainedModel):
    """
    LaBraM pre-training head: masked EEG modelling against the codebook ids of a frozen VQ-NSP tokenizer.

    Given `bool_masked_pos` M [batch, channels * patches] (channel-major), the model runs two passes, one with M and
    one with its complement (symmetric masking), as the original does; both run as one batch of 2B samples. `labels`
    are the tokenizer's ids for every position; the loss is CE over the M positions of pass one plus CE over the ~M
    positions of pass two. With `config.cls_position_from_first_channel` the cls token gets the first channel's
    spatial embedding (the original pre-training quirk; converted pre-training checkpoints set it).
    """

    _keys_to_ignore_on_load_unexpected = [r"pooler\.", r"classifier\."]

    def __init__(self, config: LaBraMConfig):
        super().__init__(config)
        self.labram = LaBraMModel(config, add_pooling_layer=False, use_mask_token=True)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self):
        return None

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        bool_masked_pos: torch.BoolTensor | None = None,
        labels: torch.LongTensor | None = None,
        channel_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        masked_logits_only: bool = False,
        **kwargs,
    ) -> tuple | LaBraMMaskedEEGModelingOutput:
        r"""
        input_values, channel_ids, channel_mask, interpolate_pos_encoding: as in [`LaBraMModel`].
        bool_masked_pos (`torch.BoolTensor` of shape `(batch_size, channels * patches)`, *optional*):
            `True` where a patch is masked (channel-major). Without it a single unmasked pass runs.
        labels (`torch.LongTensor` of shape `(batch_size, channels * patches)`, *optional*):
            Codebook ids of every patch (from `LaBraMTokenizerModel.get_codebook_indices`); needs `bool_masked_pos`.
        masked_logits_only (`bool`, *optional*, defaults to `False`):
            With `bool_masked_pos`: run the codebook head only where the loss looks, as the original pre-training
            does. `logits` is then `(num_first, vocab_size)` for the masked real patches of pass one and
            `symmetric_logits` `(num_second, vocab_size)` for the unmasked real patches of pass two, each in the
            row-major order of its boolean mask (`bool_masked_pos & real`, `~bool_masked_pos & real`). The loss is
            the same; the head's work and the `(2 * batch_size, channels * patches, vocab_size)` logits are halved
            or better.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if labels is not None and bool_masked_pos is None:
            raise ValueError("`labels` need `bool_masked_pos`: the loss is computed on masked positions.")
        batch_size = input_values.shape[0] if input_values is not None else 0
        if bool_masked_pos is not None:
            bool_masked_pos = bool_masked_pos.bool()
            # Check the caller's batch before it is doubled (errors name its shapes and batch indices).
            patches, channel_ids, channel_mask = _prepare_inputs(
                self.config, input_values, channel_ids, channel_mask, bool_masked_pos, interpolate_pos_encoding
            )
            # Pass one (mask M) and pass two (mask ~M) as one batch of 2B samples: [2B, ...]
            outputs = self.labram(
                _twice(patches),
                channel_ids=_twice(channel_ids),
                channel_mask=_twice(channel_mask),
                bool_masked_pos=torch.cat([bool_masked_pos, ~bool_masked_pos], dim=0),
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
                cls_from_first_channel=self.config.cls_position_from_first_channel,
                interpolate_pos_encoding=interpolate_pos_encoding,
            )
        else:
            outputs = self.labram(
                input_values,
                channel_ids=channel_ids,
                channel_mask=channel_mask,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
                cls_from_first_channel=self.config.cls_position_from_first_channel,
                interpolate_pos_encoding=interpolate_pos_encoding,
            )
        sequence_output = self.layernorm(outputs.last_hidden_state[:, 1:])  # patch tokens [B or 2B, L, D]
        hidden_states, attentions = outputs.hidden_states, outputs.attentions
        first = second = None
        if bool_masked_pos is not None:
            valid = _patch_mask(channel_mask, patches.shape[2])  # [B, L], None when every channel is real
            first = bool_masked_pos if valid is None else bool_masked_pos & valid  # where pass one is scored
            second = ~bool_masked_pos if valid is None else ~bool_masked_pos & valid  # where pass two is scored
            if hidden_states is not None:
                hidden_states = tuple(h[:batch_size] for h in hidden_states)
            if attentions is not None:
                attentions = tuple(a[:batch_size] for a in attentions)
        if first is not None and masked_logits_only:
            # the scored tokens of both passes through the head in one GEMM: [N1 + N2, D] -> [N1 + N2, V]
            scored = torch.cat([sequence_output[:batch_size][first], sequence_output[batch_size:][second]], dim=0)
            logits, symmetric_logits = self.lm_head(scored).split([int(first.sum()), int(second.sum())], dim=0)
        else:
            all_logits = self.lm_head(sequence_output)  # [B or 2B, L, V]
            logits, symmetric_logits = all_logits[:batch_size], None
            if first is not None:
                symmetric_logits = all_logits[batch_size:]

        loss = None
        if labels is not None:
            labels = labels.to(logits.device).long()
            if masked_logits_only:
                loss = F.cross_entropy(logits, labels[first]) + F.cross_entropy(symmetric_logits, labels[second])
            else:
                loss = F.cross_entropy(logits[first], labels[first]) + F.cross_entropy(
                    symmetric_logits[second], labels[second]
                )

        if not return_dict:
            output = tuple(v for v in (logits, symmetric_logits, hidden_states, attentions) if v is not None)
            return ((loss,) + output) if loss is not None else output
        return LaBraMMaskedEEGModelingOutput(
            loss=loss,
            logits=logits,
            symmetric_logits=symmetric_logits,
            hidden_states=hidden_states,
            attentions=attentions,
        )


# ----------------------------------------------------------------------------------------------------------------------
# VQ-NSP neural tokenizer
# ----------------------------------------------------------------------------------------------------------------------


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(tensor)
    return tensor


def _cosine_kmeans(samples: torch.Tensor, num_clusters: int, num_iters: int) -> torch.Tensor:
    """Cosine k-means on l2-normalised samples [N, d]; initial means drawn from the samples (as in the original)."""
    num_samples, dim = samples.shape
    if num_samples >= num_clusters:
        indices = torch.randperm(num_samples, device=samples.device)[:num_clusters]
    else:
        indices = torch.randint(0, num_samples, (num_clusters,), device=samples.device)
    means = samples[indices]
    for _ in range(num_iters):
        buckets = (samples @ means.t()).argmax(dim=-1)
        counts = torch.bincount(buckets, minlength=num_clusters)
        sums = torch.zeros(num_clusters, dim, dtype=samples.dtype, device=samples.device)
        sums.index_add_(0, buckets, samples)
        new_means = F.normalize(sums / counts.clamp(min=1).unsqueeze(-1), dim=-1)
        means = torch.where((counts == 0).unsqueeze(-1), means, new_means)
    return means


class LaBraMVectorQuantizer(nn.Module):
    """
    l2-normalised codebook quantizer. The codebook is a buffer: it changes only through its EMA update (training
    mode only, all-reduced across processes when torch.distributed is initialised) and its optional k-means
    initialisation on the first training batch. Runs in float32 with autocast disabled.
    """

    def __init__(self, config: LaBraMTokenizerConfig):
        super().__init__()
        self.n_code = config.n_code
        self.code_dim = config.code_dim
        self.beta = config.beta
        self.decay = config.ema_decay
        self.kmeans_init = config.kmeans_init
        self.kmeans_iters = config.kmeans_iters
        # float32 is hard-coded: the quantizer is in `_keep_in_fp32_modules_strict`, and a model built under another
        # default dtype (e.g. `from_config(..., dtype=torch.float16)`) must keep an fp32 codebook as well.
        self.register_buffer("codebook", torch.zeros(config.n_code, config.code_dim, dtype=torch.float32))
        self.register_buffer("code_usage", torch.zeros(config.n_code, dtype=torch.float32))  # EMA of code counts
        self.register_buffer("initialized", torch.zeros((), dtype=torch.float32))

    def codebook_distances(self, flat: torch.Tensor) -> torch.Tensor:
        """Squared distances [N, n_code] by the original formula ||z||^2 + ||e||^2 - 2 z.e (it settles near-ties)."""
        return (
            flat.pow(2).sum(dim=1, keepdim=True) + self.codebook.pow(2).sum(dim=1) - 2 * flat @ self.codebook.t()
        )

    @torch.no_grad()
    def _kmeans_initialize(self, flat: torch.Tensor) -> None:
        means = _cosine_kmeans(flat, self.n_code, self.kmeans_iters)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(means, src=0)  # every process starts from the same codebook
        self.codebook.copy_(means)
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor, token_mask: torch.Tensor | None) -> None:
        weights = torch.ones_like(indices, dtype=flat.dtype) if token_mask is None else token_mask.to(flat.dtype)
        counts = torch.zeros(self.n_code, dtype=flat.dtype, device=flat.device).index_add_(0, indices, weights)
        sums = torch.zeros(self.n_code, self.code_dim, dtype=flat.dtype, device=flat.device)
        sums.index_add_(0, indices, flat * weights.unsqueeze(-1))
        _all_reduce_sum(counts)
        _all_reduce_sum(sums)
        self.code_usage.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        unused = counts == 0
        means = F.normalize(sums / counts.clamp(min=1).unsqueeze(-1), dim=-1)
        means = torch.where(unused.unsqueeze(-1), self.codebook, means)
        updated = self.codebook * self.decay + means * (1 - self.decay)
        self.codebook.copy_(F.normalize(updated, dim=-1))

    def forward(
        self, features: torch.Tensor, token_mask: torch.Tensor | None = None, update: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features [B, L, code_dim] -> (straight-through quantised [B, L, code_dim], commitment loss, ids [B, L])."""
        with torch.autocast(device_type=features.device.type, enabled=False):
            features = F.normalize(features.float(), dim=-1)
            flat = features.reshape(-1, self.code_dim)  # [B * L, code_dim]
            flat_mask = token_mask.reshape(-1) if token_mask is not None else None
            training_update = self.training and update
            if training_update and self.kmeans_init and not is_torchdynamo_compiling() and not bool(self.initialized):
                self._kmeans_initialize(flat if flat_mask is None else flat[flat_mask])
            indices = self.codebook_distances(flat).argmin(dim=1)  # [B * L]
            quantized = F.embedding(indices, self.codebook).view_as(features)  # [B, L, code_dim]
            if training_update:
                self._ema_update(flat, indices, flat_mask)
            if token_mask is None:
                loss = self.beta * F.mse_loss(quantized.detach(), features)
            else:
                weight = token_mask.unsqueeze(-1).to(features.dtype)  # [B, L, 1]
                squared = (quantized.detach() - features) ** 2 * weight
                loss = self.beta * squared.sum() / (weight.sum() * self.code_dim).clamp(min=1)
            quantized = features + (quantized - features).detach()
        return quantized, loss, indices.view(features.shape[:-1])


class LaBraMDecoderEmbeddings(nn.Module):
    """The tokenizer decoder's embeddings: a 1x1 convolution of the code vectors, cls, spatial and temporal rows."""

    def __init__(self, config: LaBraMTokenizerConfig):
        super().__init__()
        self.projection = nn.Conv2d(config.code_dim, config.hidden_size, kernel_size=1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_electrodes + 1, config.hidden_size))
        self.time_embeddings = nn.Parameter(torch.zeros(1, config.max_time_patches, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        quantized: torch.Tensor,
        channel_ids: torch.Tensor,
        num_patches: int,
        interpolate_pos_encoding: bool = False,
    ) -> torch.Tensor:
        batch_size, num_tokens, code_dim = quantized.shape
        num_channels = num_tokens // num_patches
        code_map = quantized.transpose(1, 2).reshape(batch_size, code_dim, num_channels, num_patches)  # [B, d, C, A]
        embeddings = self.projection(code_map.to(self.projection.weight.dtype))  # [B, D, C, A]
        embeddings = embeddings.flatten(2).transpose(1, 2)  # [B, C * A, D]
        cls_tokens = self.cls_token.expand(batch_size, -1, -1)  # [B, 1, D]
        embeddings = _add_positions(
            cls_tokens,
            embeddings,
            channel_ids,
            num_patches,
            self.position_embeddings,
            self.time_embeddings,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )  # [B, 1 + L, D]
        return self.dropout(embeddings)


class LaBraMTokenizerEncoder(nn.Module):
    def __init__(self, config: LaBraMTokenizerConfig):
        super().__init__()
        self.embeddings = LaBraMEmbeddings(config)
        self.encoder = LaBraMEncoder(config, num_layers=config.num_hidden_layers)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, patches, channel_ids, token_mask=None, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        hidden_states = self.embeddings(
            patches, channel_ids, token_mask=token_mask, interpolate_pos_encoding=interpolate_pos_encoding
        )
        attention_mask = _attention_mask(token_mask, hidden_states.dtype)
        hidden_states = self.encoder(hidden_states, attention_mask=attention_mask).last_hidden_state
        return self.layernorm(hidden_states[:, 1:])  # patch tokens [B, L, D]


class LaBraMTokenizerDecoder(nn.Module):
    def __init__(self, config: LaBraMTokenizerConfig):
        super().__init__()
        self.embeddings = LaBraMDecoderEmbeddings(config)
        self.encoder = LaBraMEncoder(config, num_layers=config.decoder_num_hidden_layers)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self, quantized, channel_ids, num_patches, token_mask=None, interpolate_pos_encoding: bool = False
    ) -> torch.Tensor:
        hidden_states = self.embeddings(quantized, channel_ids, num_patches, interpolate_pos_encoding)
        attention_mask = _attention_mask(token_mask, hidden_states.dtype)
        hidden_states = self.encoder(hidden_states, attention_mask=attention_mask).last_hidden_state
        return self.layernorm(hidden_states[:, 1:])  # patch tokens [B, L, D]


def _input_dtype(linear: nn.Module) -> torch.dtype:
    """The dtype a Linear takes: its weight's, or float32 for a dynamically quantised one (whose weight is a method)."""
    weight = linear.weight
    return weight.dtype if isinstance(weight, torch.Tensor) else torch.float32


def _task_head(in_dim: int, out_dim: int, dtype: torch.dtype | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, in_dim, dtype=dtype), nn.Tanh(), nn.Linear(in_dim, out_dim, dtype=dtype))


def _full_spectrum(patches: torch.Tensor) -> torch.Tensor:
    """
    The full complex FFT over the last axis of real `patches`, built from `rfft` so that it is the same on every
    backend: the DC and Nyquist bins get an imaginary part of exactly +0.0 (so their phase is 0 or +pi, as with
    torch's CPU FFT, which the original ran; cuFFT can return -0.0 there, i.e. a phase of -pi), and the upper half is
    the exact complex conjugate of the lower half.
    """
    patch_size = patches.shape[-1]
    half = torch.fft.rfft(patches, dim=-1)  # [..., P // 2 + 1]
    imag = half.imag.clone()
    imag[..., 0] = 0.0
    if patch_size % 2 == 0:
        imag[..., -1] = 0.0
    half = torch.complex(half.real, imag)
    mirror = half[..., 1 : patch_size - patch_size // 2].flip(-1).conj()  # bins P // 2 + 1 ... P - 1
    return torch.cat([half, mirror], dim=-1)  # [..., P]


def _standardize(values: torch.Tensor, channel_mask: torch.Tensor | None) -> torch.Tensor:
    """Per-sample standardisation over all (channel, patch, bin) values with the unbiased std (as the original)."""
    if channel_mask is None:
        mean = values.mean(dim=(1, 2, 3), keepdim=True)
        std = values.std(dim=(1, 2, 3), keepdim=True)
        return (values - mean) / std
    weight = channel_mask.to(values.dtype)[:, :, None, None]  # [B, C, 1, 1]
    count = weight.sum(dim=(1, 2, 3), keepdim=True) * values.shape[2] * values.shape[3]
    mean = (values * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    var = (((values - mean) * weight) ** 2).sum(dim=(1, 2, 3), keepdim=True) / (count - 1)
    return (values - mean) / var.sqrt() * weight


class LaBraMTokenizerPreTrainedModel(_RemoteCodeMixin, PreTrainedModel):
    _auto_map = {
        "AutoConfig": "configuration_labram.LaBraMTokenizerConfig",
        "AutoModel": "modeling_labram.LaBraMTokenizerModel",
    }
    config_class = LaBraMTokenizerConfig
    config: LaBraMTokenizerConfig
    base_model_prefix = "tokenizer"
    main_input_name = "input_values"
    input_modalities = ("time",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["LaBraMLayer"]
    _supports_sdpa = True
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = False
    _keep_in_fp32_modules_strict = ["quantizer", "encoder_head"]
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        _init_labram_module(module, self.config.initializer_range)
        if isinstance(module, LaBraMVectorQuantizer):
            if module.kmeans_init:
                init.zeros_(module.codebook)
                init.zeros_(module.initialized)
            else:
                init.copy_(module.codebook, F.normalize(torch.randn_like(module.codebook), dim=-1))
                init.ones_(module.initialized)
            init.zeros_(module.code_usage)


class LaBraMTokenizerModel(LaBraMTokenizerPreTrainedModel):
    """
    VQ-NSP, LaBraM's neural tokenizer: a LaBraM encoder maps every patch to a code of an l2-normalised codebook; a
    small decoder predicts the standardised Fourier amplitude and phase of the patch from the codes. Use
    [`~LaBraMTokenizerModel.get_codebook_indices`] to produce masked-modelling targets.
    """

    def __init__(self, config: LaBraMTokenizerConfig):
        super().__init__(config)
        self.encoder = LaBraMTokenizerEncoder(config)
        # fp32 hard-coded, as for the quantizer (`_keep_in_fp32_modules_strict`)
        self.encoder_head = _task_head(config.hidden_size, config.code_dim, dtype=torch.float32)
        self.quantizer = LaBraMVectorQuantizer(config)
        self.decoder = LaBraMTokenizerDecoder(config)
        self.amplitude_head = _task_head(config.hidden_size, config.decoder_out_dim)
        self.phase_head = _task_head(config.hidden_size, config.decoder_out_dim)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.embeddings.patch_embeddings

    def encode(
        self,
        input_values: torch.Tensor,
        channel_ids: torch.Tensor,
        channel_mask: torch.Tensor | None = None,
        update_codebook: bool = True,
        interpolate_pos_encoding: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """
        Returns (encoder features [B, L, d], quantised [B, L, d], commitment loss, ids [B, L], token mask). Inputs as
        in [`~LaBraMTokenizerModel.forward`]; `update_codebook=False` never changes the codebook.
        """
        patches, channel_ids, channel_mask = _prepare_inputs(
            self.config, input_values, channel_ids, channel_mask, interpolate_pos_encoding=interpolate_pos_encoding
        )
        return self._encode_patches(patches, channel_ids, channel_mask, update_codebook, interpolate_pos_encoding)

    def _encode_patches(
        self,
        patches: torch.Tensor,
        channel_ids: torch.Tensor,
        channel_mask: torch.Tensor | None,
        update_codebook: bool,
        interpolate_pos_encoding: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`encode` on checked inputs (patches [B, C, A, P] with zeroed padding, channel_ids [B, C])."""
        token_mask = _patch_mask(channel_mask, patches.shape[2])
        hidden_states = self.encoder(
            patches.to(self.encoder.embeddings.cls_token.dtype), channel_ids, token_mask, interpolate_pos_encoding
        )
        with torch.autocast(device_type=hidden_states.device.type, enabled=False):
            features = self.encoder_head(hidden_states.to(_input_dtype(self.encoder_head[-1])))  # [B, L, code_dim]
        quantized, loss, indices = self.quantizer(features, token_mask, update=update_codebook)
        return features, quantized, loss, indices, token_mask

    @torch.no_grad()
    def get_codebook_indices(
        self,
        input_values: torch.Tensor,
        channel_ids: torch.Tensor,
        channel_mask: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
    ) -> torch.LongTensor:
        """Codebook ids [batch, channels * patches] (channel-major). Never changes the codebook, in any mode."""
        return self.encode(
            input_values,
            channel_ids,
            channel_mask,
            update_codebook=False,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )[3]

    @staticmethod
    def fourier_targets(
        input_values: torch.Tensor, patch_size: int = 200, channel_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Standardised amplitude and phase of the full FFT of every patch, each [B, C, A, patch_size]. With
        `channel_mask`, the statistics use the real channels only and padded channels (whatever their values) give
        zeros.
        """
        batch_size, num_channels = input_values.shape[:2]
        patches = input_values.float().reshape(batch_size, num_channels, -1, patch_size)  # [B, C, A, P]
        if channel_mask is not None:
            patches = patches.masked_fill(~channel_mask.bool()[:, :, None, None], 0.0)  # a select: NaN padding is inert
        spectrum = _full_spectrum(patches)
        amplitude = _standardize(spectrum.abs(), channel_mask)
        phase = _standardize(torch.angle(spectrum), channel_mask)
        return amplitude, phase

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        channel_ids: torch.Tensor | None = None,
        channel_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        **kwargs,
    ) -> tuple | LaBraMTokenizerOutput:
        r"""
        input_values (`torch.FloatTensor` of shape `(batch_size, channels, time)`): EEG in microvolts / 100, finite
            in real channels.
        channel_ids (`torch.LongTensor` of shape `(batch_size, channels)` or `(channels,)`): electrode ids.
        channel_mask (`torch.BoolTensor` of shape `(batch_size, channels)`, *optional*): `False` for padding (whose
            values are replaced by zeros); every sample needs a real channel.
        interpolate_pos_encoding (`bool`, *optional*, defaults to `False`): accept more than `max_time_patches`
            patches by interpolating the encoder's and the decoder's temporal embeddings (as in [`LaBraMModel`]).
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        patches, channel_ids, channel_mask = _prepare_inputs(
            self.config, input_values, channel_ids, channel_mask, interpolate_pos_encoding=interpolate_pos_encoding
        )
        batch_size, num_channels, num_patches, _ = patches.shape
        features, quantized, quantization_loss, token_ids, token_mask = self._encode_patches(
            patches, channel_ids, channel_mask, True, interpolate_pos_encoding
        )
        decoded = self.decoder(quantized, channel_ids, num_patches, token_mask, interpolate_pos_encoding)  # [B, L, D]
        amplitude_reconstruction = self.amplitude_head(decoded)  # [B, L, P]
        phase_reconstruction = self.phase_head(decoded)  # [B, L, P]

        amplitude_target, phase_target = self.fourier_targets(patches, self.config.patch_size, channel_mask)
        flat_amplitude = amplitude_target.reshape(batch_size, num_channels * num_patches, -1)  # [B, L, P]
        flat_phase = phase_target.reshape(batch_size, num_channels * num_patches, -1)  # [B, L, P]
        if token_mask is None:
            amplitude_loss = F.mse_loss(amplitude_reconstruction.float(), flat_amplitude)
            phase_loss = F.mse_loss(phase_reconstruction.float(), flat_phase)
        else:
            weight = token_mask.unsqueeze(-1).float()  # [B, L, 1]
            denominator = weight.sum() * flat_amplitude.shape[-1]
            amplitude_loss = (((amplitude_reconstruction.float() - flat_amplitude) ** 2) * weight).sum() / denominator
            phase_loss = (((phase_reconstruction.float() - flat_phase) ** 2) * weight).sum() / denominator
        loss = quantization_loss + amplitude_loss + phase_loss

        output = LaBraMTokenizerOutput(
            loss=loss,
            quantization_loss=quantization_loss,
            amplitude_loss=amplitude_loss,
            phase_loss=phase_loss,
            token_ids=token_ids,
            quantized=quantized,
            encoder_features=features,
            amplitude_reconstruction=amplitude_reconstruction,
            phase_reconstruction=phase_reconstruction,
            amplitude_target=amplitude_target,
            phase_target=phase_target,
        )
        return output if return_dict else output.to_tuple()


__all__ = [
    "LaBraMPreTrainedModel",
    "LaBraMModel",
    "LaBraMForSequenceClassification",
    "LaBraMForMaskedEEGModeling",
    "LaBraMTokenizerPreTrainedModel",
    "LaBraMTokenizerModel",
    "LaBraMMaskedEEGModelingOutput",
    "LaBraMTokenizerOutput",
]
