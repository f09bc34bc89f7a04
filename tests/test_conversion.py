"""Conversion on the full-size key listings of the original models (base/large/huge fine-tune, MEM, VQ-NSP).

The listings (tests/fixtures/reference/keys) hold every state-dict key and shape of the original classes. Each is
converted with meta tensors (no memory), the configuration is inferred from the shapes, and the converted keys and
shapes must equal those of our model built from that configuration, with nothing missing or left over."""

from pathlib import Path

import pytest
import torch

from labram_hf.conversion import convert_state_dict, detect_kind, infer_config, to_original_state_dict
from labram_hf.conversion.convert_labram import MODEL_CLASSES

KEYS = Path(__file__).parent / "fixtures" / "reference" / "keys"


def read_listing(name):
    state_dict = {}
    for line in (KEYS / name).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, *_ = line.split("\t")
        dims = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
        state_dict[key] = torch.empty(dims, device="meta")
    return state_dict


@pytest.mark.parametrize(
    "listing,kind,expected",
    [
        ("keys_finetune_base.txt", "classifier", dict(hidden_size=200, num_hidden_layers=12, num_attention_heads=10)),
        ("keys_finetune_large.txt", "classifier", dict(hidden_size=400, num_hidden_layers=24, num_attention_heads=16)),
        ("keys_finetune_huge.txt", "classifier", dict(hidden_size=800, num_hidden_layers=48, num_attention_heads=16)),
        ("keys_pretrain_base.txt", "pretraining", dict(hidden_size=200, vocab_size=8192, num_hidden_layers=12)),
        ("keys_vqnsp_codedim64.txt", "tokenizer", dict(n_code=8192, code_dim=64, decoder_num_hidden_layers=3)),
    ],
)
def test_full_size_listing_converts_exactly(listing, kind, expected):
    original = read_listing(listing)
    assert detect_kind(original) == kind
    config = infer_config(original, kind)
    for field, value in expected.items():
        assert getattr(config, field) == value, field
    if kind == "classifier":
        assert config.num_labels == 1 and config.problem_type == "multi_label_classification"
    if kind == "pretraining":
        assert config.cls_position_from_first_channel
    converted = convert_state_dict(original, kind)
    with torch.device("meta"):
        model = MODEL_CLASSES[kind](config)
    ours = model.state_dict()
    assert set(converted) == set(ours)
    for key, tensor in converted.items():
        assert tuple(tensor.shape) == tuple(ours[key].shape), key
    # and back: every kept original key returns under its own name
    back = to_original_state_dict(ours, kind)
    assert set(back) <= set(original)
    dropped = set(original) - set(back)
    assert all(k.startswith(("student.lm_head.", "projection_head.", "quantize.embedding.")) for k in dropped)


def test_unknown_keys_are_an_error_not_silently_dropped():
    original = read_listing("keys_finetune_base.txt")
    original["blocks.0.attn.relative_position_bias_table_typo"] = torch.empty(3, device="meta")
    original["some_new_module.weight"] = torch.empty(3, device="meta")
    with pytest.raises(ValueError, match="some_new_module.weight"):
        convert_state_dict(original, "classifier")


def test_unrecognised_checkpoint_kind():
    with pytest.raises(ValueError, match="not an original LaBraM"):
        detect_kind({"conv.weight": torch.zeros(1), "fc.bias": torch.zeros(1)})
