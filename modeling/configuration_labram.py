# Copyright 2026 The labram-hf developers. Licensed under the MIT licence.
"""LaBraM and VQ-NSP tokenizer configurations.

This file is self-contained (it imports only transformers and huggingface_hub) so that the very same bytes serve as
remote code on the Hugging Face Hub.
"""

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig


# Architecture presets of the original code (`labram_{base,large,huge}_patch200_200`).
LABRAM_PRESETS = {
    "base": {
        "hidden_size": 200,
        "num_hidden_layers": 12,
        "num_attention_heads": 10,
        "intermediate_size": 800,
        "temporal_conv_channels": 8,
    },
    "large": {
        "hidden_size": 400,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 1600,
        "temporal_conv_channels": 16,
    },
    "huge": {
        "hidden_size": 800,
        "num_hidden_layers": 48,
        "num_attention_heads": 16,
        "intermediate_size": 3200,
        "temporal_conv_channels": 32,
    },
}

# Tokenizer presets (`vqnsp_encoder_base_decoder_3x200x12`, `vqnsp_encoder_large_decoder_3x200x24`).
LABRAM_TOKENIZER_PRESETS = {
    "base": {"num_hidden_layers": 12, "decoder_num_hidden_layers": 3},
    "large": {"num_hidden_layers": 24, "decoder_num_hidden_layers": 3},
}


def _check_transformer_fields(config) -> None:
    if config.hidden_size % config.num_attention_heads != 0:
        raise ValueError(
            f"hidden_size ({config.hidden_size}) must be divisible by num_attention_heads "
            f"({config.num_attention_heads})."
        )
    if config.patch_size != 200:
        # The temporal convolution yields 25 time steps only for 200-sample patches; 25 * channels = hidden_size.
        raise ValueError(f"LaBraM's temporal convolution is defined for patch_size=200, got {config.patch_size}.")
    if config.hidden_size != 25 * config.temporal_conv_channels:
        raise ValueError(
            "The temporal convolution flattens 25 time steps x temporal_conv_channels into one token, so "
            f"hidden_size must equal 25 * temporal_conv_channels; got hidden_size={config.hidden_size}, "
            f"temporal_conv_channels={config.temporal_conv_channels}."
        )
    if config.temporal_conv_channels % config.temporal_conv_groups != 0:
        raise ValueError(
            f"temporal_conv_channels ({config.temporal_conv_channels}) must be divisible by temporal_conv_groups "
            f"({config.temporal_conv_groups})."
        )


@strict
class LaBraMConfig(PreTrainedConfig):
    r"""
    Configuration of a LaBraM backbone and its heads ([`LaBraMModel`], [`LaBraMForSequenceClassification`],
    [`LaBraMForMaskedEEGModeling`]). Defaults give LaBraM-Base as fine-tuned in the paper; use
    [`LaBraMConfig.from_preset`] for `"base"` (5.8 M parameters), `"large"` (46 M) or `"huge"` (369 M).

    Args:
        hidden_size (`int`, defaults to 200): width D of every token; equals 25 x `temporal_conv_channels`.
        num_hidden_layers (`int`, defaults to 12): number of transformer blocks.
        num_attention_heads (`int`, defaults to 10): attention heads per block.
        intermediate_size (`int`, defaults to 800): hidden width of the MLP (4 D in all presets).
        hidden_act (`str`, defaults to `"gelu"`): MLP activation (exact erf GELU as in the original).
        hidden_dropout_prob (`float`, defaults to 0.0): dropout after the embeddings, attention output and MLP.
        attention_probs_dropout_prob (`float`, defaults to 0.0): dropout on attention probabilities.
        drop_path_rate (`float`, defaults to 0.1): stochastic depth, rising linearly from 0 over the blocks.
        initializer_range (`float`, defaults to 0.02): std of the truncated-normal initialiser.
        layer_norm_eps (`float`, defaults to 1e-6): epsilon of every LayerNorm (also the per-head qk norms).
        layer_scale_init_value (`float`, defaults to 0.1): initial value of the per-channel layer scales; 0 disables
            layer scale (plain residuals).
        qkv_bias (`bool`, defaults to `False`): add learnable q and v biases (the k bias is fixed at zero).
        use_qk_norm (`bool`, defaults to `True`): per-head LayerNorm on queries and keys before scaling.
        patch_size (`int`, defaults to 200): samples per patch (1 s at 200 Hz).
        sampling_rate (`int`, defaults to 200): sampling rate in Hz the model expects.
        temporal_conv_channels (`int`, defaults to 8): channels K of the temporal convolution patch encoder.
        temporal_conv_groups (`int`, defaults to 4): GroupNorm groups of the temporal convolution.
        temporal_conv_norm_eps (`float`, defaults to 1e-5): GroupNorm epsilon of the temporal convolution.
        max_time_patches (`int`, defaults to 16): rows of the temporal embedding = most patches per channel (longer
            inputs need `interpolate_pos_encoding=True` in the forward call, which interpolates the rows).
        num_electrodes (`int`, defaults to 128): rows of the spatial (electrode) embedding, besides the cls row.
        vocab_size (`int`, defaults to 8192): codebook size predicted by the masked EEG modelling head.
        use_mean_pooling (`bool`, defaults to `True`): pooled output = LayerNorm(mean of patch tokens); otherwise
            LayerNorm of the cls token.
        classifier_init_scale (`float`, defaults to 0.001): the classification head's init std is
            `initializer_range * classifier_init_scale` (the original multiplies the head by `init_scale`).
        label_smoothing (`float`, defaults to 0.0): label smoothing of the single-label classification loss (the
            original TUEV recipe uses 0.1).
        cls_position_from_first_channel (`bool`, defaults to `False`): reproduce the original pre-training quirk in
            [`LaBraMForMaskedEEGModeling`]: the cls token receives the spatial embedding of the *first input
            channel* instead of its own row 0. The original pre-training code does this, so converted pre-training
            checkpoints set it to `True`; fine-tuning (the other heads) always uses row 0, as the original does.

    Example:

    ```python
    >>> from labram_hf import LaBraMConfig, LaBraMModel
    >>> config = LaBraMConfig.from_preset("base")
    >>> model = LaBraMModel(config)
    ```
    """

    model_type = "labram"

    hidden_size: int = 200
    num_hidden_layers: int = 12
    num_attention_heads: int = 10
    intermediate_size: int = 800
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.1
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-6
    layer_scale_init_value: float | int = 0.1
    qkv_bias: bool = False
    use_qk_norm: bool = True
    patch_size: int = 200
    sampling_rate: int = 200
    temporal_conv_channels: int = 8
    temporal_conv_groups: int = 4
    temporal_conv_norm_eps: float = 1e-5
    max_time_patches: int = 16
    num_electrodes: int = 128
    vocab_size: int = 8192
    use_mean_pooling: bool = True
    classifier_init_scale: float | int = 0.001
    label_smoothing: float | int = 0.0
    cls_position_from_first_channel: bool = False

    def __post_init__(self, **kwargs):
        _check_transformer_fields(self)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}.")
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "LaBraMConfig":
        """Build the configuration of a named size: `"base"`, `"large"` or `"huge"`; kwargs override fields."""
        key = name.lower().removeprefix("labram-").removeprefix("labram_")
        if key not in LABRAM_PRESETS:
            raise ValueError(f"Unknown LaBraM preset {name!r}; choose one of {sorted(LABRAM_PRESETS)}.")
        return cls(**{**LABRAM_PRESETS[key], **kwargs})


@strict
class LaBraMTokenizerConfig(PreTrainedConfig):
    r"""
    Configuration of the VQ-NSP neural tokenizer ([`LaBraMTokenizerModel`]): a LaBraM encoder, an l2-normalised
    codebook quantizer with EMA updates, and a small transformer decoder predicting the Fourier amplitude and phase
    of every patch. Encoder and decoder share width and block settings (as in the original); their depths are
    `num_hidden_layers` and `decoder_num_hidden_layers`.

    Args:
        hidden_size, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps, initializer_range,
        hidden_dropout_prob, attention_probs_dropout_prob, drop_path_rate, patch_size, sampling_rate,
        temporal_conv_channels, temporal_conv_groups, temporal_conv_norm_eps, max_time_patches, num_electrodes:
            as in [`LaBraMConfig`]. The tokenizer's defaults follow the original VQ-NSP: q/v bias on, no qk norm,
            no layer scale, no drop path.
        num_hidden_layers (`int`, defaults to 12): encoder depth.
        decoder_num_hidden_layers (`int`, defaults to 3): decoder depth.
        n_code (`int`, defaults to 8192): codebook size.
        code_dim (`int`, defaults to 64): codebook vector size (64 in the released tokenizer and the README recipe;
            32 is the original function's default).
        beta (`float`, defaults to 1.0): weight of the commitment loss.
        ema_decay (`float`, defaults to 0.99): EMA decay of the codebook (and of the usage statistic).
        kmeans_init (`bool`, defaults to `True`): initialise the codebook by cosine k-means on the first training
            batch (otherwise l2-normalised Gaussian noise).
        kmeans_iters (`int`, defaults to 10): k-means iterations.
        decoder_out_dim (`int`, defaults to 200): outputs of the amplitude and phase heads (one per FFT bin).
    """

    model_type = "labram_tokenizer"

    hidden_size: int = 200
    num_hidden_layers: int = 12
    decoder_num_hidden_layers: int = 3
    num_attention_heads: int = 10
    intermediate_size: int = 800
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    drop_path_rate: float | int = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-6
    layer_scale_init_value: float | int = 0.0
    qkv_bias: bool = True
    use_qk_norm: bool = False
    patch_size: int = 200
    sampling_rate: int = 200
    temporal_conv_channels: int = 8
    temporal_conv_groups: int = 4
    temporal_conv_norm_eps: float = 1e-5
    max_time_patches: int = 16
    num_electrodes: int = 128
    n_code: int = 8192
    code_dim: int = 64
    beta: float | int = 1.0
    ema_decay: float = 0.99
    kmeans_init: bool = True
    kmeans_iters: int = 10
    decoder_out_dim: int = 200

    def __post_init__(self, **kwargs):
        _check_transformer_fields(self)
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}.")
        if self.decoder_out_dim != self.patch_size:
            raise ValueError(
                f"decoder_out_dim ({self.decoder_out_dim}) must equal patch_size ({self.patch_size}): the heads "
                "predict one value per FFT bin of a patch."
            )
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> "LaBraMTokenizerConfig":
        """Build a named tokenizer configuration (`"base"` or `"large"` encoder); kwargs override fields."""
        key = name.lower().removeprefix("vqnsp-").removeprefix("vqnsp_")
        if key not in LABRAM_TOKENIZER_PRESETS:
            raise ValueError(f"Unknown tokenizer preset {name!r}; choose one of {sorted(LABRAM_TOKENIZER_PRESETS)}.")
        return cls(**{**LABRAM_TOKENIZER_PRESETS[key], **kwargs})


__all__ = ["LaBraMConfig", "LaBraMTokenizerConfig", "LABRAM_PRESETS", "LABRAM_TOKENIZER_PRESETS"]
