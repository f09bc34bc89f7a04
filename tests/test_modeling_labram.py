"""Contract tests for the LaBraM model classes on tiny configurations (ModelTester style)."""

import copy

import pytest
import torch

import labram_hf
from labram_hf import (
    LaBraMConfig,
    LaBraMForMaskedEEGModeling,
    LaBraMForSequenceClassification,
    LaBraMModel,
    LaBraMTokenizerConfig,
    LaBraMTokenizerModel,
)
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

BATCH, CHANNELS, PATCHES = 3, 3, 2
TIME = PATCHES * 200


def tiny_config(**kwargs):
    defaults = dict(
        hidden_size=100,
        temporal_conv_channels=4,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        vocab_size=32,
        num_labels=3,
        drop_path_rate=0.0,
        # non-trivial weights everywhere, so that a dropped parameter shows
        initializer_range=0.2,
        classifier_init_scale=1.0,
    )
    defaults.update(kwargs)
    return LaBraMConfig(**defaults)


def tiny_tokenizer_config(**kwargs):
    defaults = dict(
        hidden_size=100,
        temporal_conv_channels=4,
        num_hidden_layers=2,
        decoder_num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        n_code=16,
        code_dim=8,
        kmeans_init=False,
        initializer_range=0.2,
    )
    defaults.update(kwargs)
    return LaBraMTokenizerConfig(**defaults)


def inputs(batch=BATCH, channels=CHANNELS, patches=PATCHES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    input_values = torch.randn(batch, channels, patches * 200, generator=generator)
    channel_ids = torch.randperm(128, generator=generator)[:channels].repeat(batch, 1)
    return input_values, channel_ids


def masked_positions(batch=BATCH, channels=CHANNELS, patches=PATCHES, seed=0):
    generator = torch.Generator().manual_seed(seed)
    length = channels * patches
    noise = torch.rand(batch, length, generator=generator)
    keep = length // 2
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask.scatter_(1, noise.argsort(dim=1)[:, :keep], False)
    return mask


HEADS = [LaBraMModel, LaBraMForSequenceClassification, LaBraMForMaskedEEGModeling]


def run(model, input_values, channel_ids, **kwargs):
    if isinstance(model, LaBraMForMaskedEEGModeling) and "bool_masked_pos" not in kwargs:
        kwargs["bool_masked_pos"] = masked_positions(input_values.shape[0], input_values.shape[1])
    return model(input_values, channel_ids, **kwargs)


def main_output(model, output):
    if isinstance(model, LaBraMModel):
        return output.pooler_output
    return output.logits


# ------------------------------------------------------------------------------------------------ configuration


def test_presets_and_parameter_counts():
    counts = {}
    for name in ("base", "large"):
        model = LaBraMForSequenceClassification(LaBraMConfig.from_preset(name, num_labels=1))
        counts[name] = sum(p.numel() for p in model.parameters())
    assert counts == {"base": 5_820_137, "large": 46_259_121}
    huge = LaBraMConfig.from_preset("huge")
    assert (huge.hidden_size, huge.num_hidden_layers, huge.num_attention_heads, huge.temporal_conv_channels) == (
        800, 48, 16, 32)
    tokenizer = LaBraMTokenizerModel(LaBraMTokenizerConfig.from_preset("base"))
    assert sum(p.numel() for p in tokenizer.parameters() if p.requires_grad) == 7_522_640
    with pytest.raises(ValueError, match="preset"):
        LaBraMConfig.from_preset("gigantic")


def test_config_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="25 \\* temporal_conv_channels"):
        LaBraMConfig(hidden_size=120, num_attention_heads=10)
    with pytest.raises(ValueError, match="divisible"):
        LaBraMConfig(hidden_size=200, num_attention_heads=7)
    config = tiny_config(label_smoothing=0.1, cls_position_from_first_channel=True)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, LaBraMConfig)
    without_path = lambda c: {k: v for k, v in c.to_dict().items() if k != "_name_or_path"}  # noqa: E731
    assert without_path(loaded) == without_path(config)
    tok = tiny_tokenizer_config(code_dim=64)
    tok.save_pretrained(tmp_path / "tok")
    assert AutoConfig.from_pretrained(tmp_path / "tok").code_dim == 64


# ------------------------------------------------------------------------------------------------ save / load


@pytest.mark.parametrize("model_class", HEADS + [LaBraMTokenizerModel])
def test_save_load_exact_round_trip(model_class, tmp_path):
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config()
    model = model_class(config).eval()
    input_values, channel_ids = inputs()
    with torch.no_grad():
        before = run(model, input_values, channel_ids)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert (tmp_path / "modeling_labram.py").exists() and (tmp_path / "configuration_labram.py").exists()
    loaded, info = model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[key]), key
    with torch.no_grad():
        after = run(loaded.eval(), input_values, channel_ids)
    for name in ("last_hidden_state", "pooler_output", "logits", "symmetric_logits", "token_ids", "loss"):
        if getattr(before, name, None) is not None:
            assert torch.equal(getattr(before, name), getattr(after, name)), name


def test_auto_classes(tmp_path):
    config = tiny_config()
    for auto, cls in ((AutoModel, LaBraMModel), (AutoModelForSequenceClassification, LaBraMForSequenceClassification),
                      (AutoModelForPreTraining, LaBraMForMaskedEEGModeling)):
        cls(config).save_pretrained(tmp_path / cls.__name__)
        assert type(auto.from_pretrained(tmp_path / cls.__name__)) is cls
    LaBraMTokenizerModel(tiny_tokenizer_config()).save_pretrained(tmp_path / "tok")
    assert type(AutoModel.from_pretrained(tmp_path / "tok")) is LaBraMTokenizerModel
    import json

    auto_map = json.loads((tmp_path / "LaBraMModel" / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_labram.LaBraMConfig",
        "AutoModel": "modeling_labram.LaBraMModel",
        "AutoModelForSequenceClassification": "modeling_labram.LaBraMForSequenceClassification",
        "AutoModelForPreTraining": "modeling_labram.LaBraMForMaskedEEGModeling",
    }
    tok_map = json.loads((tmp_path / "tok" / "config.json").read_text())["auto_map"]
    assert tok_map == {"AutoConfig": "configuration_labram.LaBraMTokenizerConfig",
                       "AutoModel": "modeling_labram.LaBraMTokenizerModel"}


@pytest.mark.parametrize("source_class", HEADS)
@pytest.mark.parametrize("target_class", HEADS)
def test_backbone_checkpoint_into_each_head(source_class, target_class, tmp_path):
    config = tiny_config()
    source = source_class(config)
    source.save_pretrained(tmp_path)
    target, info = target_class.from_pretrained(tmp_path, output_loading_info=True)
    prefix = "" if target_class is LaBraMModel else "labram."
    # Every backbone tensor arrives unchanged.
    source_backbone = source if source_class is LaBraMModel else source.labram
    target_backbone = target if target_class is LaBraMModel else target.labram
    for key, tensor in source_backbone.state_dict().items():
        if key in target_backbone.state_dict():
            assert torch.equal(tensor, target_backbone.state_dict()[key]), key
    # Only the new head is missing.
    head_keys = {
        LaBraMModel: set(),
        LaBraMForSequenceClassification: {"classifier.weight", "classifier.bias"},
        LaBraMForMaskedEEGModeling: {"layernorm.weight", "layernorm.bias", "lm_head.weight", "lm_head.bias",
                                     f"{prefix}embeddings.mask_token"},
    }
    pooler = {f"{prefix}pooler.layernorm.weight", f"{prefix}pooler.layernorm.bias"}
    expected = set() if source_class is target_class else set(head_keys[target_class])
    if target_class is not LaBraMForMaskedEEGModeling and source_class is LaBraMForMaskedEEGModeling:
        expected |= pooler
    if target_class is LaBraMForMaskedEEGModeling and source_class is LaBraMForMaskedEEGModeling:
        expected = set()
    assert set(info["missing_keys"]) == expected
    assert not info["mismatched_keys"]
    # The heads silence the other head's leftovers; the bare model reports them (they are not backbone weights).
    source_head = {k.removeprefix(prefix) for k in head_keys[source_class]} if target_class is LaBraMModel else set()
    if target_class is LaBraMModel and source_class is LaBraMForMaskedEEGModeling:
        source_head = {"layernorm.weight", "layernorm.bias", "lm_head.weight", "lm_head.bias",
                       "labram.embeddings.mask_token"}
    assert set(info["unexpected_keys"]) == source_head


def test_ignore_mismatched_sizes(tmp_path):
    LaBraMForSequenceClassification(tiny_config(num_labels=3)).save_pretrained(tmp_path)
    with pytest.raises(RuntimeError):
        LaBraMForSequenceClassification.from_pretrained(tmp_path, num_labels=7)
    model, info = LaBraMForSequenceClassification.from_pretrained(
        tmp_path, num_labels=7, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert model.classifier.out_features == 7
    assert {key for key, *_ in info["mismatched_keys"]} == {"classifier.weight", "classifier.bias"}


def test_init_does_not_overwrite_loaded_tensors(tmp_path):
    """Fine-tuned checkpoint (no mask token) into the MEM head: the loaded cls token must survive init."""
    source = LaBraMForSequenceClassification(tiny_config())
    source.save_pretrained(tmp_path)
    target = LaBraMForMaskedEEGModeling.from_pretrained(tmp_path)
    assert torch.equal(target.labram.embeddings.cls_token, source.labram.embeddings.cls_token)
    assert torch.equal(target.labram.embeddings.position_embeddings, source.labram.embeddings.position_embeddings)
    assert target.labram.embeddings.mask_token.abs().sum() > 0  # freshly initialised, not uninitialised memory


def test_initialisation_follows_the_original():
    config = LaBraMConfig.from_preset("base", num_labels=2)
    model = LaBraMForSequenceClassification(config)
    layers = model.labram.encoder.layer
    assert torch.allclose(layers[0].lambda_1, torch.full((200,), 0.1))
    std_proj_0 = layers[0].attention.dense.weight.std().item()
    std_proj_11 = layers[11].attention.dense.weight.std().item()
    assert std_proj_0 == pytest.approx(0.02 / 2**0.5, rel=0.05)
    assert std_proj_11 == pytest.approx(0.02 / 24**0.5, rel=0.05)
    assert model.classifier.weight.std().item() == pytest.approx(0.02 * 0.001, rel=0.2)
    assert model.labram.embeddings.position_embeddings.std().item() == pytest.approx(0.02, rel=0.1)


# ------------------------------------------------------------------------------------------------ numerics


@pytest.mark.parametrize("model_class", HEADS + [LaBraMTokenizerModel])
def test_eager_matches_sdpa(model_class):
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config()
    eager = model_class(copy.deepcopy(config)).eval()
    eager.set_attn_implementation("eager")
    sdpa = model_class(copy.deepcopy(config)).eval()
    sdpa.load_state_dict(eager.state_dict())
    sdpa.set_attn_implementation("sdpa")
    input_values, channel_ids = inputs()
    with torch.no_grad():
        a = run(eager, input_values, channel_ids)
        b = run(sdpa, input_values, channel_ids)
    if model_class is LaBraMTokenizerModel:
        assert torch.equal(a.token_ids, b.token_ids)
        torch.testing.assert_close(a.amplitude_reconstruction, b.amplitude_reconstruction, atol=1e-5, rtol=0)
    else:
        torch.testing.assert_close(main_output(eager, a), main_output(sdpa, b), atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_class", HEADS)
def test_batch_equivalence(model_class):
    """A sample alone gives the same outputs as inside a batch."""
    model = model_class(tiny_config()).eval()
    input_values, channel_ids = inputs(batch=4)
    mask = masked_positions(batch=4)
    kwargs = {"bool_masked_pos": mask} if model_class is LaBraMForMaskedEEGModeling else {}
    with torch.no_grad():
        batched = main_output(model, model(input_values, channel_ids, **kwargs))
        for i in range(4):
            single_kwargs = {"bool_masked_pos": mask[i : i + 1]} if kwargs else {}
            single = main_output(model, model(input_values[i : i + 1], channel_ids[i : i + 1], **single_kwargs))
            torch.testing.assert_close(single[0], batched[i], atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_class", HEADS + [LaBraMTokenizerModel])
def test_padded_channels_are_ignored_exactly(model_class):
    """Pad a sample with extra channels + channel_mask: outputs equal the sample run alone (≤ 1e-5)."""
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config()
    model = model_class(config).eval()
    input_values, channel_ids = inputs(batch=2, channels=3)
    padded_values = torch.cat([input_values, 5 * torch.randn(2, 2, TIME)], dim=1)  # 2 padded channels
    padded_ids = torch.cat([channel_ids, torch.tensor([[7, 9], [0, 0]])], dim=1)
    channel_mask = torch.tensor([[True, True, True, False, False]] * 2)
    kwargs, padded_kwargs = {}, {}
    if model_class is LaBraMForMaskedEEGModeling:
        mask = masked_positions(batch=2, channels=3)
        padded_mask = torch.cat([mask, torch.zeros(2, 2 * PATCHES, dtype=torch.bool)], dim=1)
        labels = torch.randint(0, config.vocab_size, (2, 3 * PATCHES))
        padded_labels = torch.cat([labels, torch.randint(0, config.vocab_size, (2, 2 * PATCHES))], dim=1)
        kwargs = {"bool_masked_pos": mask, "labels": labels}
        padded_kwargs = {"bool_masked_pos": padded_mask, "labels": padded_labels}
    if model_class is LaBraMForSequenceClassification:
        kwargs = {"labels": torch.tensor([0, 2])}
        padded_kwargs = dict(kwargs)
    with torch.no_grad():
        alone = model(input_values, channel_ids, **kwargs)
        padded = model(padded_values, padded_ids, channel_mask=channel_mask, **padded_kwargs)
    if model_class is LaBraMModel:
        torch.testing.assert_close(padded.pooler_output, alone.pooler_output, atol=1e-5, rtol=0)
        real = 1 + 3 * PATCHES
        torch.testing.assert_close(padded.last_hidden_state[:, :real], alone.last_hidden_state, atol=1e-5, rtol=0)
    elif model_class is LaBraMForSequenceClassification:
        torch.testing.assert_close(padded.logits, alone.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.loss, alone.loss, atol=1e-5, rtol=0)
    elif model_class is LaBraMForMaskedEEGModeling:
        real = 3 * PATCHES
        torch.testing.assert_close(padded.logits[:, :real], alone.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.symmetric_logits[:, :real], alone.symmetric_logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.loss, alone.loss, atol=1e-5, rtol=0)
    else:
        real = 3 * PATCHES
        assert torch.equal(padded.token_ids[:, :real], alone.token_ids)
        torch.testing.assert_close(padded.amplitude_reconstruction[:, :real], alone.amplitude_reconstruction,
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.amplitude_target[:, :3], alone.amplitude_target, atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.phase_target[:, :3], alone.phase_target, atol=1e-5, rtol=0)
        torch.testing.assert_close(padded.loss, alone.loss, atol=1e-5, rtol=0)


def test_padding_without_mask_changes_outputs():
    """The channel mask is what makes padding inert (guards against a test that cannot fail)."""
    model = LaBraMModel(tiny_config()).eval()
    input_values, channel_ids = inputs(batch=1)
    padded_values = torch.cat([input_values, 5 * torch.randn(1, 1, TIME)], dim=1)
    padded_ids = torch.cat([channel_ids, torch.tensor([[7]])], dim=1)
    with torch.no_grad():
        alone = model(input_values, channel_ids).pooler_output
        unmasked = model(padded_values, padded_ids).pooler_output
    assert (alone - unmasked).abs().max() > 1e-3


def test_channel_ids_accept_one_dimension():
    model = LaBraMModel(tiny_config()).eval()
    input_values, channel_ids = inputs()
    with torch.no_grad():
        a = model(input_values, channel_ids).pooler_output
        b = model(input_values, channel_ids[0]).pooler_output
        c = model(input_values.view(BATCH, CHANNELS, PATCHES, 200), channel_ids).pooler_output
    assert torch.equal(a, b) and torch.equal(a, c)


def test_outputs_hidden_states_and_attentions():
    config = tiny_config()
    model = LaBraMModel(config).eval()
    input_values, channel_ids = inputs()
    with torch.no_grad():
        out = model(input_values, channel_ids, output_hidden_states=True, output_attentions=True)
    tokens = 1 + CHANNELS * PATCHES
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert len(out.attentions) == config.num_hidden_layers
    assert out.attentions[0].shape == (BATCH, config.num_attention_heads, tokens, tokens)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(BATCH, config.num_attention_heads, tokens))
    with torch.no_grad():
        as_tuple = model(input_values, channel_ids, return_dict=False)
    torch.testing.assert_close(as_tuple[0], out.last_hidden_state, atol=1e-5, rtol=0)
    torch.testing.assert_close(as_tuple[1], out.pooler_output, atol=1e-5, rtol=0)


def test_pooler_is_layernorm_of_patch_mean():
    model = LaBraMModel(tiny_config()).eval()
    input_values, channel_ids = inputs()
    with torch.no_grad():
        out = model(input_values, channel_ids)
        expected = model.pooler.layernorm(out.last_hidden_state[:, 1:].mean(1))
    torch.testing.assert_close(out.pooler_output, expected, atol=0, rtol=0)


# ------------------------------------------------------------------------------------------------ training


@pytest.mark.parametrize("model_class", HEADS + [LaBraMTokenizerModel])
def test_gradient_checkpointing_same_gradients(model_class):
    torch.manual_seed(0)
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config()
    model = model_class(config)
    model.train()
    input_values, channel_ids = inputs()
    kwargs = {}
    if model_class is LaBraMForSequenceClassification:
        kwargs["labels"] = torch.tensor([0, 1, 2])
    if model_class is LaBraMForMaskedEEGModeling:
        kwargs["labels"] = torch.randint(0, config.vocab_size, (BATCH, CHANNELS * PATCHES))

    def loss_and_grads(m):
        m.zero_grad()
        out = run(m, input_values, channel_ids, **kwargs)
        loss = out.loss if getattr(out, "loss", None) is not None else out.pooler_output.pow(2).mean()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}

    reference = copy.deepcopy(model)
    loss_a, grads_a = loss_and_grads(reference)
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    loss_b, grads_b = loss_and_grads(model)
    torch.testing.assert_close(loss_a, loss_b, atol=1e-6, rtol=0)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("model_class", [LaBraMForSequenceClassification, LaBraMForMaskedEEGModeling,
                                         LaBraMTokenizerModel])
def test_every_trainable_parameter_gets_a_gradient(model_class):
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config(drop_path_rate=0.1)
    model = model_class(config).train()
    input_values, channel_ids = inputs()
    kwargs = {}
    if model_class is LaBraMForSequenceClassification:
        kwargs["labels"] = torch.tensor([0, 1, 2])
    if model_class is LaBraMForMaskedEEGModeling:
        kwargs["labels"] = torch.randint(0, config.vocab_size, (BATCH, CHANNELS * PATCHES))
    run(model, input_values, channel_ids, **kwargs).loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    if model_class is LaBraMForMaskedEEGModeling:
        # with the original quirk off, row 0 is the cls row; unused electrode / time rows get zero gradient
        no_grad = [n for n in no_grad if n not in ("labram.embeddings.position_embeddings",
                                                   "labram.embeddings.time_embeddings")]
    assert no_grad == []


def test_classification_problem_types():
    input_values, channel_ids = inputs()
    torch.manual_seed(0)
    model = LaBraMForSequenceClassification(tiny_config(num_labels=3)).eval()
    labels = torch.tensor([0, 2, 1])
    out = model(input_values, channel_ids, labels=labels)
    assert model.config.problem_type == "single_label_classification"
    torch.testing.assert_close(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    model.config.label_smoothing = 0.1
    smoothed = model(input_values, channel_ids, labels=labels).loss
    logp = out.logits.log_softmax(-1)
    expected = 0.9 * torch.nn.functional.nll_loss(logp, labels) + 0.1 * (-logp.mean(-1)).mean()
    torch.testing.assert_close(smoothed, expected)

    # one logit + BCE: the original TUAB recipe (converted checkpoints set this problem type)
    binary = LaBraMForSequenceClassification(tiny_config(num_labels=1, problem_type="multi_label_classification"))
    targets = torch.tensor([1, 0, 1])
    out = binary(input_values, channel_ids, labels=targets)
    torch.testing.assert_close(
        out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits[:, 0], targets.float())
    )
    regression = LaBraMForSequenceClassification(tiny_config(num_labels=1))
    values = torch.tensor([0.5, -1.0, 2.0])
    out = regression(input_values, channel_ids, labels=values)
    assert regression.config.problem_type == "regression"
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits[:, 0], values))


def test_masked_modeling_loss_is_symmetric_cross_entropy():
    config = tiny_config()
    model = LaBraMForMaskedEEGModeling(config).eval()
    input_values, channel_ids = inputs()
    mask = masked_positions()
    labels = torch.randint(0, config.vocab_size, (BATCH, CHANNELS * PATCHES))
    with torch.no_grad():
        out = model(input_values, channel_ids, bool_masked_pos=mask, labels=labels)
        first = model(input_values, channel_ids, bool_masked_pos=mask).logits
        second = model(input_values, channel_ids, bool_masked_pos=~mask).logits
    torch.testing.assert_close(out.symmetric_logits, second, atol=1e-5, rtol=0)
    expected = torch.nn.functional.cross_entropy(first[mask], labels[mask]) + torch.nn.functional.cross_entropy(
        second[~mask], labels[~mask])
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=0)
    # masking matters
    assert (first - model(input_values, channel_ids).logits).abs().max() > 1e-4
    with pytest.raises(ValueError, match="bool_masked_pos"):
        model(input_values, channel_ids, labels=labels)


def test_compile_runs():
    model = LaBraMForSequenceClassification(tiny_config()).eval()
    input_values, channel_ids = inputs()
    compiled = torch.compile(model)
    with torch.no_grad():
        expected = model(input_values, channel_ids).logits
        actual = compiled(input_values, channel_ids).logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------ tokenizer


def test_tokenizer_eval_never_changes_codebook():
    model = LaBraMTokenizerModel(tiny_tokenizer_config()).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    input_values, channel_ids = inputs()
    with torch.no_grad():
        model(input_values, channel_ids)
    model.train()
    model.get_codebook_indices(input_values, channel_ids)  # never updates, even in train mode
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, state[key]), key


def test_tokenizer_training_kmeans_and_ema():
    torch.manual_seed(0)
    model = LaBraMTokenizerModel(tiny_tokenizer_config(kmeans_init=True, n_code=4)).train()
    assert model.quantizer.initialized.item() == 0 and model.quantizer.codebook.abs().sum() == 0
    input_values, channel_ids = inputs(batch=4)
    out = model(input_values, channel_ids)
    quantizer = model.quantizer
    assert quantizer.initialized.item() == 1
    norms = quantizer.codebook.norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    counts = torch.bincount(out.token_ids.flatten(), minlength=4).float()
    torch.testing.assert_close(quantizer.code_usage, 0.01 * counts)
    codebook = quantizer.codebook.clone()
    out.loss.backward()
    assert quantizer.codebook.grad is None  # a buffer: never trained by gradients
    model(input_values, channel_ids)
    assert not torch.equal(codebook, quantizer.codebook)  # EMA moved it


def test_tokenizer_bf16_keeps_codebook_fp32(tmp_path):
    LaBraMTokenizerModel(tiny_tokenizer_config()).save_pretrained(tmp_path)
    model = LaBraMTokenizerModel.from_pretrained(tmp_path, dtype=torch.bfloat16).eval()
    assert model.quantizer.codebook.dtype == torch.float32
    assert model.encoder_head[0].weight.dtype == torch.float32
    assert model.encoder.embeddings.cls_token.dtype == torch.bfloat16
    input_values, channel_ids = inputs()
    ids = model.get_codebook_indices(input_values, channel_ids)
    assert ids.dtype == torch.long and ids.shape == (BATCH, CHANNELS * PATCHES)


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("model_class", HEADS + [LaBraMTokenizerModel])
def test_invalid_inputs_raise_clear_errors(model_class):
    config = tiny_tokenizer_config() if model_class is LaBraMTokenizerModel else tiny_config()
    model = model_class(config).eval()
    input_values, channel_ids = inputs()
    with pytest.raises(ValueError, match="max_time_patches.*interpolate_pos_encoding=True"):
        model(torch.randn(1, CHANNELS, 17 * 200), channel_ids[:1])
    with pytest.raises(ValueError, match="multiple of patch_size"):
        model(torch.randn(1, CHANNELS, 250), channel_ids[:1])
    with pytest.raises(ValueError, match=r"\[0, 128\)"):
        model(input_values, torch.tensor([0, 5, 128]))
    with pytest.raises(ValueError, match=r"\[0, 128\)"):
        model(input_values, torch.tensor([0, -1, 3]))
    with pytest.raises(ValueError, match="channel_ids"):
        model(input_values, channel_ids[:, :2])
    with pytest.raises(ValueError, match="channel_ids"):
        model(input_values)
    with pytest.raises(ValueError, match="integer"):
        model(input_values, channel_ids.float())


def test_channel_name_mapping():
    assert labram_hf.channel_ids(["EEG FP1-REF", "Fp2.", "EEG Cz-LE", "FP1-F7"]) == [0, 2, 41, 120]
    assert labram_hf.channel_ids(["t3", "T7", "ftt9h", "a1", "M1"]) == [88, 37, 114, 94, 92]
    assert labram_hf.channel_ids(["LM"]) == [92]  # alias table, only for names absent from the vocabulary
    with pytest.raises(ValueError, match=r"\['EKG', 'F3-C3'\]"):
        labram_hf.channel_ids(["Fp1", "EKG", "F3-C3"])
    assert labram_hf.channel_ids(["Fp1", "EKG"], strict=False) == [0]
    with pytest.raises(ValueError, match="Duplicate"):
        labram_hf.channel_ids(["EEG FP1-REF", "Fp1"])
    assert len(labram_hf.LABRAM_CHANNELS) == 128
    tuh = labram_hf.channel_ids([f"EEG {name}-REF" for name in labram_hf.TUH_CHANNELS])
    assert [i + 1 for i in tuh] == [1, 3, 18, 22, 40, 44, 62, 66, 81, 83, 16, 24, 89, 91, 90, 92, 95, 96, 20, 42, 64,
                                    113, 114]
