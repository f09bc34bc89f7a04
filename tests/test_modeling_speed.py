"""The structure behind the model's CPU speed (benchmarks/model_speed.py measures the speed itself): the q/v-biased
projection is one GEMM, each residual branch is one fused multiply-add pass (layer scale and stochastic depth
folded in), the attention's backward makes no layout copy of the projection's gradient, and the position tables are
added by broadcasting. Plus the plumbing of the benchmark's comparison with the original code."""

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from labram_hf import LaBraMConfig, LaBraMTokenizerConfig
from labram_hf.modeling.modeling_labram import LaBraMLayer, LaBraMSelfAttention, _add_positions, drop_path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
ELEMENTWISE = {"add", "add_", "mul", "mul_", "div", "div_", "addcmul", "where", "sub"}
COPIES = {"copy_", "clone", "contiguous", "_to_copy"}


class OpLog(TorchDispatchMode):
    """Records (aten op name, number of output elements) of the ops run inside the `with` block that write a new
    tensor (views are left out)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [a for a in list(args) + list((kwargs or {}).values()) if isinstance(a, torch.Tensor)]
        shared = {a.untyped_storage().data_ptr() for a in inputs}
        name = func.overloadpacket.__name__
        if isinstance(out, torch.Tensor) and (name.endswith("_") or out.untyped_storage().data_ptr() not in shared):
            self.calls.append((name, out.numel()))  # in-place writes and new tensors; views are left out
        return out

    def names(self, numel: int, among: set) -> list:
        return sorted(name for name, size in self.calls if size == numel and name in among)


def tiny_config(**kwargs):
    defaults = dict(hidden_size=100, temporal_conv_channels=4, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, num_labels=2, initializer_range=0.2)  # fmt: skip
    defaults.update(kwargs)
    config = LaBraMConfig(**defaults)
    config._attn_implementation = "sdpa"  # standalone layers: no dispatch through a PreTrainedModel
    return config


def test_qkv_projection_with_biases_is_one_gemm():
    """q / zero k / v biases go into the projection's GEMM (as the original's F.linear), not a second pass."""
    config = LaBraMTokenizerConfig(hidden_size=100, temporal_conv_channels=4, num_attention_heads=4,
                                   intermediate_size=64, num_hidden_layers=1, decoder_num_hidden_layers=1)  # fmt: skip
    assert config.qkv_bias
    torch.manual_seed(0)
    attention = LaBraMSelfAttention(config)
    with torch.no_grad():
        attention.q_bias.normal_()
        attention.v_bias.normal_()
    config._attn_implementation = "sdpa"
    hidden_states = torch.randn(2, 7, 100)
    with torch.no_grad(), OpLog() as log:
        attention(hidden_states)
    names = [name for name, _ in log.calls]
    assert names.count("addmm") == 2 and "mm" not in names  # qkv (with its biases) and the output projection
    assert log.names(2 * 7 * 300, ELEMENTWISE) == []
    with torch.no_grad():
        qkv = attention._project_qkv(hidden_states)
    weight = attention.qkv.weight
    bias = torch.cat([attention.q_bias, torch.zeros(100), attention.v_bias])
    torch.testing.assert_close(qkv, hidden_states @ weight.T + bias, atol=1e-5, rtol=0)
    assert torch.equal(qkv[..., 100:200], hidden_states @ weight[100:200].T)  # the k part gets no bias


@pytest.mark.parametrize("training", [False, True])
def test_residual_branches_are_single_fused_passes(training):
    """Layer scale, stochastic depth and the residual add make one addcmul per branch; same numbers (same random
    draws) as hidden + drop_path(lambda * branch)."""
    torch.manual_seed(0)
    drop_prob = 0.5
    layer = LaBraMLayer(tiny_config(), drop_path_rate=drop_prob).train(training)
    with torch.no_grad():
        layer.lambda_1.normal_()
        layer.lambda_2.normal_()
    hidden_states = torch.randn(8, 5, 100)
    torch.manual_seed(1)
    with torch.no_grad(), OpLog() as log:
        output, _ = layer(hidden_states)
    assert log.names(hidden_states.numel(), ELEMENTWISE) == ["addcmul", "addcmul"]

    torch.manual_seed(1)
    with torch.no_grad():
        branch = layer.attention(layer.layernorm_before(hidden_states))[0]
        middle = hidden_states + drop_path(layer.lambda_1 * branch, drop_prob, training)
        branch = layer.mlp(layer.layernorm_after(middle))
        expected = middle + drop_path(layer.lambda_2 * branch, drop_prob, training)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)
    if training:  # the draws dropped some branches and kept others, so the check above is not vacuous
        torch.manual_seed(1)
        draws = torch.floor(1 - drop_prob + torch.rand(2, 8))
        assert 0 < draws.sum() < draws.numel()


def test_attention_backward_makes_no_layout_copy_of_the_projection_gradient():
    """q, k, v are views of the projection output in its own layout: the gradient reaches the GEMM without a
    [B, N, 3 D] copy (a [B, H, N, d] permutation needed one)."""
    torch.manual_seed(0)
    attention = LaBraMSelfAttention(tiny_config())
    hidden_states = torch.randn(2, 7, 100, requires_grad=True)
    output, _ = attention(hidden_states)
    with OpLog() as log:
        output.square().sum().backward()
    assert log.names(2 * 7 * 300, COPIES) == []
    assert hidden_states.grad is not None and hidden_states.grad.abs().sum() > 0


def test_position_embeddings_are_added_by_broadcasting():
    """Spatial then temporal rows are added to the tokens without materialising expanded tables: two adds and one
    concatenation of the token size, and exactly the numbers of the original's (x + spatial) + temporal."""
    torch.manual_seed(0)
    batch, channels, patches, width = 3, 4, 5, 16
    cls_tokens = torch.randn(1, 1, width).expand(batch, -1, -1)
    tokens = torch.randn(batch, channels * patches, width)
    channel_ids = torch.randint(0, 128, (batch, channels))
    position_table, time_table = torch.randn(1, 129, width), torch.randn(1, 16, width)
    with OpLog() as log:
        output = _add_positions(cls_tokens, tokens, channel_ids, patches, position_table, time_table)
    size = batch * channels * patches * width
    assert sorted(name for name, numel in log.calls if numel >= size) == ["add", "add", "cat"]

    spatial = position_table[0, channel_ids + 1].repeat_interleave(patches, dim=1)  # [B, L, D]
    temporal = time_table[0, :patches].repeat(channels, 1)  # [L, D]
    assert torch.equal(output[:, 1:], (tokens + spatial) + temporal)
    assert torch.equal(output[:, :1], cls_tokens + position_table[:, :1])


# ------------------------------------------------------------------------------- benchmark comparison plumbing


def load_benchmark(name):
    spec = importlib.util.spec_from_file_location(f"_benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_original_comparison_skips_clearly_without_the_original_code(tmp_path):
    original = load_benchmark("original_labram")
    with pytest.raises(original.OriginalUnavailable, match=r"modeling_finetune\.py not found.*935963004/LaBraM"):
        original.import_original(str(tmp_path))
    speed = load_benchmark("model_speed")
    result = speed.run_original_child(speed.parse_args(["--_child", "original", "--original", str(tmp_path)]))
    assert result["mode"] == "original" and "modeling_finetune.py not found" in result["skipped"]
    result = speed.run_original_child(speed.parse_args(["--_child", "original"]))
    assert "no --original DIR" in result["skipped"]


def test_original_inputs_are_the_original_layout():
    original = load_benchmark("original_labram")
    values = torch.randn(2, 3, 400)
    ids = torch.tensor([[4, 0, 17], [4, 0, 17]])
    patches, input_chans = original.original_inputs(values, ids)
    assert patches.shape == (2, 3, 2, 200) and torch.equal(patches[1, 2, 1], values[1, 2, 200:])
    assert input_chans.tolist() == [0, 5, 1, 18]  # cls row, then vocabulary position + 1


def test_interleaved_timing_alternates_and_reports_speedups():
    speed = load_benchmark("model_speed")
    order = []

    def slow():
        order.append("slow")
        time.sleep(0.05)

    def fast():
        order.append("fast")
        time.sleep(0.005)

    timings = speed._interleaved({"slow": slow, "fast": fast}, warmup=1, iters=3)
    assert order == ["slow", "fast", "slow", "fast", "fast", "slow", "slow", "fast"]
    assert len(timings["slow"]["seconds"]) == 3 and timings["slow"]["best_seconds"] >= 0.05
    speedups = speed._speedups(timings, "slow")
    assert set(speedups) == {"fast"} and speedups["fast"]["best"] > 1.5
