"""Model-level input handling: non-finite values, padded channels, `interpolate_pos_encoding` for inputs longer than
`max_time_patches`, and int8 dynamic quantisation. Tiny configurations, except the quantisation test (base size);
the long-input and quantisation tests run on a real recording (30 s of the absence-epilepsy sample)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from labram_hf import (
    LaBraMConfig,
    LaBraMFeatureExtractor,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMModel,
    LaBraMTokenizerModel,
)
from labram_hf.modeling.modeling_labram import interpolate_time_embeddings
from tests.data_fixtures import absence_eeg_30s  # noqa: F401
from tests.test_modeling_labram import inputs, masked_positions, tiny_config, tiny_tokenizer_config

ALL_CLASSES = [LaBraMModel, LaBraMForSequenceClassification, LaBraMForMaskedEEGModeling, LaBraMTokenizerModel]


def build(model_class, **config_kwargs):
    torch.manual_seed(0)
    if model_class is LaBraMTokenizerModel:
        return model_class(tiny_tokenizer_config(**config_kwargs)).eval()
    return model_class(tiny_config(**config_kwargs)).eval()


def forward(model, input_values, channel_ids, **kwargs):
    """One forward of any head; the MEM head gets a fixed mask and labels unless given."""
    if isinstance(model, LaBraMForMaskedEEGModeling) and "bool_masked_pos" not in kwargs:
        batch, channels, time = input_values.shape
        kwargs["bool_masked_pos"] = masked_positions(batch, channels, time // 200)
        kwargs["labels"] = torch.arange(channels * time // 200).remainder(model.config.vocab_size).repeat(batch, 1)
    return model(input_values, channel_ids, **kwargs)


def tensors(output):
    """Every tensor field of a model output, by name."""
    return {k: v for k, v in output.items() if isinstance(v, torch.Tensor)}


def assert_same_outputs(a, b, atol=0.0):
    a, b = tensors(a), tensors(b)
    assert a.keys() == b.keys()
    for name in a:
        if atol == 0.0:
            assert torch.equal(a[name], b[name]), name
        else:
            torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0, msg=name)


# ------------------------------------------------------------------------------------------------ non-finite input


@pytest.mark.parametrize("model_class", ALL_CLASSES)
@pytest.mark.parametrize("bad_value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_in_real_channels_raise(model_class, bad_value):
    model = build(model_class)
    input_values, channel_ids = inputs(batch=3, channels=4)
    input_values[1, 2, 57] = bad_value
    with torch.no_grad():
        with pytest.raises(ValueError, match=r"non-finite .* batch index 1, channel 2 \(1 samples"):
            forward(model, input_values, channel_ids)
        # a real channel stays checked when a channel mask is given
        channel_mask = torch.tensor([[True, True, True, False]] * 3)
        with pytest.raises(ValueError, match="batch index 1, channel 2"):
            forward(model, input_values, channel_ids, channel_mask=channel_mask)
        if model_class is LaBraMTokenizerModel:
            with pytest.raises(ValueError, match="batch index 1, channel 2"):
                model.get_codebook_indices(input_values, channel_ids)
            with pytest.raises(ValueError, match="batch index 1, channel 2"):
                model.encode(input_values, channel_ids, update_codebook=False)


@pytest.mark.parametrize("model_class", ALL_CLASSES)
def test_non_finite_padding_never_reaches_the_result(model_class):
    """NaN / Inf in padded channels: the outputs equal the same batch with zeros there (bitwise) and the sample
    alone (within 1e-5); on the old code they were NaN."""
    model = build(model_class)
    input_values, channel_ids = inputs(batch=2, channels=3)
    padded_ids = torch.cat([channel_ids, torch.tensor([[7, 9], [0, 0]])], dim=1)
    channel_mask = torch.tensor([[True, True, True, False, False], [True, True, True, True, False]])
    zeros = torch.cat([input_values, torch.randn(2, 2, input_values.shape[-1])], dim=1)  # [2, 5, 400]
    zeros[0, 3:] = 0.0
    zeros[1, 4:] = 0.0
    poisoned = zeros.clone()
    poisoned[0, 3] = float("nan")
    poisoned[0, 4, ::3] = float("inf")
    poisoned[1, 4] = float("-inf")
    padded_kwargs, alone_kwargs = {}, {}
    if model_class is LaBraMForMaskedEEGModeling:
        mask = masked_positions(batch=1, channels=3)  # [1, 3 * 2]
        padded_mask = torch.cat([mask, torch.zeros(1, 4, dtype=torch.bool)], dim=1).repeat(2, 1)  # [2, 5 * 2]
        padded_kwargs = {"bool_masked_pos": padded_mask, "labels": torch.arange(10).repeat(2, 1)}
        alone_kwargs = {"bool_masked_pos": mask}
    with torch.no_grad():
        reference = forward(model, zeros, padded_ids, channel_mask=channel_mask, **padded_kwargs)
        actual = forward(model, poisoned, padded_ids, channel_mask=channel_mask, **padded_kwargs)
        alone = forward(model, input_values[:1], channel_ids[:1], **alone_kwargs)  # sample 0 without its padding
    assert_same_outputs(actual, reference)
    for name, tensor in tensors(actual).items():
        assert torch.isfinite(tensor.float()).all(), name
    if model_class is LaBraMModel:
        torch.testing.assert_close(actual.pooler_output[:1], alone.pooler_output, atol=1e-5, rtol=0)
    elif model_class is LaBraMForSequenceClassification:
        torch.testing.assert_close(actual.logits[:1], alone.logits, atol=1e-5, rtol=0)
    elif model_class is LaBraMForMaskedEEGModeling:
        torch.testing.assert_close(actual.logits[:1, :6], alone.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(actual.symmetric_logits[:1, :6], alone.symmetric_logits, atol=1e-5, rtol=0)
    else:
        assert torch.equal(actual.token_ids[:1, :6], alone.token_ids)
        torch.testing.assert_close(actual.amplitude_target[:1, :3], alone.amplitude_target, atol=1e-5, rtol=0)
        assert torch.equal(actual.phase_target[0, 3:], torch.zeros_like(actual.phase_target[0, 3:]))
        ids = model.get_codebook_indices(poisoned, padded_ids, channel_mask)
        assert torch.equal(ids, actual.token_ids)


def test_non_finite_padding_gives_finite_gradients():
    """Training on a padded batch whose padding holds NaN: finite loss and gradients, equal to zero padding."""
    model = build(LaBraMForSequenceClassification, drop_path_rate=0.0).train()
    input_values, channel_ids = inputs(batch=2, channels=3)
    padded = torch.cat([input_values, torch.zeros(2, 1, input_values.shape[-1])], dim=1)
    padded_ids = torch.cat([channel_ids, torch.tensor([[5], [6]])], dim=1)
    channel_mask = torch.tensor([[True, True, True, False]] * 2)
    labels = torch.tensor([0, 2])

    def grads(values):
        model.zero_grad()
        model(values, padded_ids, channel_mask=channel_mask, labels=labels).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    reference = grads(padded)
    poisoned = padded.clone()
    poisoned[:, 3] = float("nan")
    actual = grads(poisoned)
    assert reference.keys() == actual.keys() and len(actual) > 10
    for name in actual:
        assert torch.equal(actual[name], reference[name]), name


def test_fourier_targets_ignore_non_finite_padding():
    values, _ = inputs(batch=2, channels=3)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    clean = values.clone()
    clean[0, 2] = 0.0
    poisoned = clean.clone()
    poisoned[0, 2] = float("nan")
    expected = LaBraMTokenizerModel.fourier_targets(clean, channel_mask=mask)
    actual = LaBraMTokenizerModel.fourier_targets(poisoned, channel_mask=mask)
    for a, b in zip(actual, expected):
        assert torch.equal(a, b) and torch.isfinite(a).all()


@pytest.mark.parametrize("model_class", ALL_CLASSES)
def test_all_padded_sample_raises(model_class):
    model = build(model_class)
    input_values, channel_ids = inputs(batch=3, channels=3)
    channel_mask = torch.tensor([[True, True, False], [False, False, False], [True, False, False]])
    with torch.no_grad(), pytest.raises(ValueError, match=r"every channel of batch index 1 as padding"):
        forward(model, input_values, channel_ids, channel_mask=channel_mask)
    if model_class is LaBraMTokenizerModel:
        with pytest.raises(ValueError, match="batch index 1"):
            model.get_codebook_indices(input_values, channel_ids, channel_mask)


# ------------------------------------------------------------------------------------------------ longer inputs


@pytest.fixture
def eeg_30s(absence_eeg_30s):  # noqa: F811
    """A real 30-s window (30 patches) of 23 channels in model units, batch of 1."""
    features = LaBraMFeatureExtractor(max_time_patches=30)(absence_eeg_30s)
    assert features["input_values"].shape == (1, 23, 30 * 200)
    return features["input_values"], features["channel_ids"]


def test_interpolate_pos_encoding_30_s_windows_through_every_head(eeg_30s):
    values, ids = eeg_30s
    values, ids = values.repeat(2, 1, 1), ids.repeat(2, 1)
    values[1] = values[1].flip(-1)  # a second, different sample
    tokens = 23 * 30
    for model_class in (LaBraMModel, LaBraMForSequenceClassification, LaBraMForMaskedEEGModeling):
        model = build(model_class)
        with pytest.raises(ValueError, match=r"max_time_patches=16.*interpolate_pos_encoding=True"):
            forward(model, values, ids)
        with torch.no_grad():
            out = forward(model, values, ids, interpolate_pos_encoding=True, output_hidden_states=True)
        assert out.hidden_states[0].shape == (2, 1 + tokens, 100)
        if model_class is LaBraMModel:
            assert out.last_hidden_state.shape == (2, 1 + tokens, 100) and out.pooler_output.shape == (2, 100)
            main = out.pooler_output
        elif model_class is LaBraMForSequenceClassification:
            assert out.logits.shape == (2, 3)
            main = out.logits
        else:
            assert out.logits.shape == out.symmetric_logits.shape == (2, tokens, 32)
            assert out.loss.shape == () and torch.isfinite(out.loss)
            main = out.symmetric_logits
        assert torch.isfinite(main).all() and (main[0] - main[1]).abs().max() > 1e-4, model_class.__name__

    tokenizer = build(LaBraMTokenizerModel)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True"):
        tokenizer.get_codebook_indices(values, ids)
    with torch.no_grad():
        out = tokenizer(values, ids, interpolate_pos_encoding=True)
    assert out.token_ids.shape == (2, tokens) and out.quantized.shape == (2, tokens, 8)
    assert out.amplitude_reconstruction.shape == out.phase_reconstruction.shape == (2, tokens, 200)
    assert out.amplitude_target.shape == (2, 23, 30, 200)
    assert all(torch.isfinite(t).all() for t in tensors(out).values())
    assert torch.equal(tokenizer.get_codebook_indices(values, ids, interpolate_pos_encoding=True), out.token_ids)


@pytest.mark.parametrize("model_class", ALL_CLASSES)
@pytest.mark.parametrize("patches", [3, 16])
def test_interpolate_pos_encoding_is_the_identity_when_the_table_fits(model_class, patches):
    """Up to max_time_patches the flag changes nothing (the original's first-N rows), bitwise."""
    model = build(model_class)
    values, ids = inputs(batch=2, channels=2, patches=patches)
    with torch.no_grad():
        plain = forward(model, values, ids)
        flagged = forward(model, values, ids, interpolate_pos_encoding=True)
    assert_same_outputs(flagged, plain)


def test_interpolated_table_values():
    """N=32 from 16 rows: F.interpolate(linear, align_corners=False), i.e. rows 0.75/0.25 blends of neighbours."""
    table = torch.randn(1, 16, 5, dtype=torch.float64)
    result = interpolate_time_embeddings(table, 32)
    expected = F.interpolate(table.transpose(1, 2), size=32, mode="linear", align_corners=False).transpose(1, 2)
    assert result.shape == (1, 32, 5) and result.dtype == torch.float64
    assert torch.equal(result, expected)
    rows = table[0]
    by_hand = torch.empty(32, 5, dtype=torch.float64)
    by_hand[0], by_hand[31] = rows[0], rows[15]  # the ends are clamped to the first and last rows
    for k in range(15):
        by_hand[2 * k + 1] = 0.75 * rows[k] + 0.25 * rows[k + 1]
        by_hand[2 * k + 2] = 0.25 * rows[k] + 0.75 * rows[k + 1]
    torch.testing.assert_close(result[0], by_hand, atol=1e-12, rtol=0)
    assert torch.equal(interpolate_time_embeddings(table, 16), table)
    assert torch.equal(interpolate_time_embeddings(table, 9), table[:, :9])
    half = interpolate_time_embeddings(table.to(torch.bfloat16), 30)
    assert half.dtype == torch.bfloat16 and half.shape == (1, 30, 5)


def test_interpolation_equals_a_model_with_the_interpolated_table():
    """Backbone at 32 patches with the flag == the same weights with a 32-row table holding the interpolated rows."""
    model = build(LaBraMModel)
    table = model.embeddings.time_embeddings.detach()
    stretched = LaBraMModel(tiny_config(max_time_patches=32)).eval()
    state = model.state_dict()
    state["embeddings.time_embeddings"] = F.interpolate(
        table.transpose(1, 2), size=32, mode="linear", align_corners=False
    ).transpose(1, 2)
    stretched.load_state_dict(state)
    values, ids = inputs(batch=2, channels=2, patches=32)
    with torch.no_grad():
        interpolated = model(values, ids, interpolate_pos_encoding=True, output_hidden_states=True)
        reference = stretched(values, ids, output_hidden_states=True)
        truncated = model(values[..., : 16 * 200], ids, output_hidden_states=True)
    assert_same_outputs(interpolated, reference)
    # the temporal rows really differ from the plain table (patch 1 of channel 0 is token 2)
    assert (interpolated.hidden_states[0][:, 2] - truncated.hidden_states[0][:, 2]).abs().max() > 1e-3


def test_tokenizer_interpolates_encoder_and_decoder_tables():
    model = build(LaBraMTokenizerModel)
    stretched = LaBraMTokenizerModel(tiny_tokenizer_config(max_time_patches=20)).eval()
    state = model.state_dict()
    for key in ("encoder.embeddings.time_embeddings", "decoder.embeddings.time_embeddings"):
        state[key] = interpolate_time_embeddings(state[key], 20)
    stretched.load_state_dict(state)
    values, ids = inputs(batch=2, channels=2, patches=20)
    with torch.no_grad():
        interpolated = model(values, ids, interpolate_pos_encoding=True)
        reference = stretched(values, ids)
        # only the decoder table interpolated: the reconstruction differs, the codes do not
        state["decoder.embeddings.time_embeddings"] = torch.zeros_like(state["decoder.embeddings.time_embeddings"])
        stretched.load_state_dict(state)
        no_decoder_time = stretched(values, ids)
    assert_same_outputs(interpolated, reference)
    assert torch.equal(no_decoder_time.token_ids, interpolated.token_ids)
    assert (no_decoder_time.amplitude_reconstruction - interpolated.amplitude_reconstruction).abs().max() > 1e-3


def test_masked_modeling_with_30_patches():
    model = build(LaBraMForMaskedEEGModeling)
    values, ids = inputs(batch=2, channels=2, patches=30)
    mask = masked_positions(batch=2, channels=2, patches=30)
    labels = torch.randint(0, 32, (2, 60), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(values, ids, bool_masked_pos=mask, labels=labels, interpolate_pos_encoding=True)
        first = model(values, ids, bool_masked_pos=mask, interpolate_pos_encoding=True).logits
        second = model(values, ids, bool_masked_pos=~mask, interpolate_pos_encoding=True).logits
    expected = F.cross_entropy(first[mask], labels[mask]) + F.cross_entropy(second[~mask], labels[~mask])
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"bool_masked_pos.*\[2, 60\]"):
        model(values, ids, bool_masked_pos=mask[:, :32], interpolate_pos_encoding=True)


# ------------------------------------------------------------------------------------------------ quantisation


def test_qkv_projection_runs_as_a_module():
    """The attention calls its qkv Linear as a module (the old code read `qkv.weight` into F.linear), so that hooks,
    adapters and quantised replacements of it take effect; q/v biases are added afterwards."""
    model = build(LaBraMTokenizerModel)  # q/v biases on
    with torch.no_grad():
        for layer in model.encoder.encoder.layer:
            layer.attention.q_bias.normal_()
            layer.attention.v_bias.normal_()
    values, ids = inputs()
    with torch.no_grad():
        before = model(values, ids)
    calls = []
    for layer in model.encoder.encoder.layer:
        # a hook that changes the projection's output must change the model's output
        layer.attention.qkv.register_forward_hook(lambda module, args, output: calls.append(1) or output * 0.5)
    with torch.no_grad():
        after = model(values, ids)
    assert len(calls) == len(model.encoder.encoder.layer)
    assert (after.encoder_features - before.encoder_features).abs().max() > 1e-3


def test_dynamic_int8_quantisation_of_a_base_classifier(absence_eeg_30s):  # noqa: F811
    """quantize_dynamic(nn.Linear -> qint8) of LaBraM-Base runs on real EEG and agrees with fp32."""
    torch.manual_seed(0)
    # classifier_init_scale=1: head weights of std 0.02 (not 2e-5), so that the logits spread and argmax means something
    config = LaBraMConfig.from_preset("base", num_labels=2, classifier_init_scale=1.0)
    model = LaBraMForSequenceClassification(config).eval()
    features = LaBraMFeatureExtractor(max_time_patches=30)(absence_eeg_30s)
    values = features["input_values"][0].view(23, 3, 2000).transpose(0, 1).contiguous()  # three 10-s windows
    ids = features["channel_ids"].expand(3, -1)
    quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    assert type(quantized.labram.encoder.layer[0].attention.qkv).__module__.startswith("torch.ao.nn.quantized")
    with torch.no_grad():
        reference = model(values, ids).logits
        actual = quantized(values, ids).logits
    probabilities, quantized_probabilities = reference.softmax(-1), actual.softmax(-1)
    max_prob_diff = (probabilities - quantized_probabilities).abs().max().item()
    agreement = (reference.argmax(-1) == actual.argmax(-1)).float().mean().item()
    print(f"int8 vs fp32: argmax agreement {agreement:.2f}, max |prob diff| {max_prob_diff:.2e}, "
          f"max |logit diff| {(reference - actual).abs().max().item():.2e}, logit spread {reference.std().item():.2e}")
    assert torch.isfinite(actual).all()
    assert 0 < max_prob_diff < 0.02  # quantised (not the fp32 model), and close
    margin = (reference[:, 0] - reference[:, 1]).abs()
    confident = margin > 0.05
    assert confident.sum() >= 2, margin  # the agreement check below is not vacuous
    assert torch.equal(reference.argmax(-1)[confident], actual.argmax(-1)[confident])


def test_masked_logits_only_scores_the_same_positions_with_the_same_loss():
    """`masked_logits_only=True` (the pre-training step's mode, as the original) runs the head only on the scored
    patches: its logits are the full logits at `bool_masked_pos & real` / `~bool_masked_pos & real`, in that
    order, and the loss is the full-logit loss."""
    torch.manual_seed(0)
    config = LaBraMConfig(num_hidden_layers=2, vocab_size=64)
    model = LaBraMForMaskedEEGModeling(config).eval()
    values, ids = torch.randn(3, 4, 3 * 200), torch.tensor([[1, 2, 3, 4]] * 3)
    channel_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    masked = torch.rand(3, 12) < 0.5
    labels = torch.randint(0, 64, (3, 12))
    real = channel_mask.repeat_interleave(3, dim=1)  # [B, C * A]
    with torch.no_grad():
        full = model(values, ids, channel_mask=channel_mask, bool_masked_pos=masked, labels=labels)
        only = model(values, ids, channel_mask=channel_mask, bool_masked_pos=masked, labels=labels,
                     masked_logits_only=True)  # fmt: skip
    assert only.logits.shape == (int((masked & real).sum()), 64)
    assert only.symmetric_logits.shape == (int((~masked & real).sum()), 64)
    torch.testing.assert_close(only.logits, full.logits[masked & real], rtol=0, atol=1e-5)
    torch.testing.assert_close(only.symmetric_logits, full.symmetric_logits[~masked & real], rtol=0, atol=1e-5)
    torch.testing.assert_close(only.loss, full.loss, rtol=0, atol=1e-5)
    assert abs(full.loss.item() - 2 * math.log(64)) < 1.0  # a real loss, not a constant
