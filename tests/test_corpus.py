"""A pre-training corpus of several prepared datasets (labram_hf.data.corpus), on real EEG windows.

Three datasets are built with ``build_dataset`` from one 40-s crop of the real absence recording with different
channel selections and window lengths (19 ch x 4 s, 8 ch x 8 s, 23 ch x 2 s), so every batch shape differs by
dataset. The sampler's promises are checked on them: shape-homogeneous batches holding exactly the rows it names,
exact per-epoch batch counts for the weights, the same global batches for 1 and 2 processes, exact resumption after
k steps, and the same batches from a DataLoader with 2 workers as with none.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from labram_hf.data.collators import LaBraMDataCollator
from labram_hf.data.corpus import (
    CorpusBatchSampler,
    CorpusError,
    CorpusSource,
    PretrainingCorpus,
    apportion,
    parse_corpus_spec,
    window_seconds_for_channels,
)
from tests.data_fixtures import EEGHDF_EEG

#: name -> (channels, window seconds, stride seconds); 19, 9 and 20 windows from 40 s.
LAYOUT = {
    "a19x4": ([c.split()[1] for c in EEGHDF_EEG[:19]], 4, 2),
    "b8x8": (["Fp1", "Fp2", "C3", "C4", "O1", "O2", "Cz", "Pz"], 8, 4),
    "c23x2": (None, 2, 2),
}
SHAPES = {"a19x4": (19, 800), "b8x8": (8, 1600), "c23x2": (23, 400)}


@pytest.fixture(scope="session")
def corpus_dirs(tmp_path_factory) -> dict[str, str]:
    """Three prepared window datasets (real EEG) with different channel counts and window lengths."""
    from labram_hf.data import build_dataset
    from labram_hf.data._testing import export_crop

    root = tmp_path_factory.mktemp("corpus")
    edf = export_crop("absence", root / "absence_40s.edf", 1000.0, 1040.0, picks=EEGHDF_EEG)
    out = {}
    for name, (channels, window, stride) in LAYOUT.items():
        build_dataset([edf], root / name, window_seconds=window, stride_seconds=stride, channels=channels,
                      progress=False)  # fmt: skip
        out[name] = str(root / name)
    return out


@pytest.fixture(scope="module")
def corpus(corpus_dirs) -> PretrainingCorpus:
    return PretrainingCorpus(",".join(corpus_dirs.values()))


def collate_with_keys(rows):
    """LaBraMDataCollator plus the rows' sample keys (module level: picklable for DataLoader workers)."""
    keys = [row.pop("sample_key") for row in rows]
    for row in rows:
        row.pop("dataset_index")
    batch = LaBraMDataCollator()(rows)
    batch["sample_keys"] = torch.tensor(keys)
    return batch


def test_window_seconds_follow_the_token_budget():
    assert [window_seconds_for_channels(c) for c in (64, 32, 19, 23, 8, 300)] == [4, 8, 13, 11, 16, 1]
    with pytest.raises(CorpusError):
        window_seconds_for_channels(0)


def test_spec_spellings(tmp_path):
    assert parse_corpus_spec("dirA:2,dirB, dirC:0.5") == [
        CorpusSource("dirA", 2.0), CorpusSource("dirB", None), CorpusSource("dirC", 0.5)]  # fmt: skip
    assert parse_corpus_spec([("x", 3), "y"]) == [CorpusSource("x", 3.0), CorpusSource("y", None)]
    assert parse_corpus_spec({"x": 1, "y": None}) == [CorpusSource("x", 1.0), CorpusSource("y", None)]
    # URLs keep their scheme; a weight after them still parses; Windows drive letters are not weights
    assert parse_corpus_spec("hf://datasets/org/eeg,hf://datasets/org/tuh:3") == [
        CorpusSource("hf://datasets/org/eeg"), CorpusSource("hf://datasets/org/tuh", 3.0)]  # fmt: skip
    assert parse_corpus_spec(r"C:\data\windows") == [CorpusSource(r"C:\data\windows")]
    listing = tmp_path / "corpus.txt"
    listing.write_text("# pre-training corpus\nwindows/tuh:2   # up-sampled\n\nwindows/a, /abs/b:0\n")
    assert parse_corpus_spec(listing) == [
        CorpusSource(str(tmp_path / "windows/tuh"), 2.0), CorpusSource(str(tmp_path / "windows/a")),
        CorpusSource("/abs/b", 0.0),
    ]  # fmt: skip
    for bad, word in (("dirA:-1", "-1"), ("dirA:lots", "lots"), ("dirA:nan", "nan"), ("", "names no dataset")):
        with pytest.raises(CorpusError, match=word):
            parse_corpus_spec(bad)
    assert list(apportion(11, [4, 2, 10])) == [3, 1, 7]  # largest remainders: 2.75, 1.375, 6.875


def test_batches_are_shape_homogeneous_and_hold_the_named_rows(corpus):
    import datasets

    names = list(LAYOUT)
    assert corpus.window_samples == [SHAPES[n][1] for n in names]
    sampler = corpus.batch_sampler(4, seed=3, num_batches=30)
    reader = corpus.torch_dataset()
    direct = [datasets.load_from_disk(p).with_format("numpy") for p in corpus.paths]  # an independent read path
    seen = set()
    for step, keys in enumerate(sampler):
        plan = sampler.global_batch(step)
        batch = LaBraMDataCollator()(reader.__getitems__(keys))
        assert tuple(batch["input_values"].shape) == (4, *SHAPES[names[plan.dataset_index]])
        assert "channel_mask" not in batch  # one montage per dataset: nothing to pad
        rows = np.sort(plan.rows)  # datasets reads sorted indices; compare row by row
        expected = direct[plan.dataset_index][rows.tolist()]
        got = {int(r): i for i, r in enumerate(plan.rows)}
        for j, r in enumerate(rows.tolist()):
            np.testing.assert_array_equal(batch["input_values"][got[r]].numpy(), expected["input_values"][j])
            np.testing.assert_array_equal(batch["channel_ids"][got[r]].numpy(), expected["channel_ids"][j])
        seen.add(plan.dataset_index)
    assert seen == {0, 1, 2}


def test_batch_counts_match_the_weights_exactly(corpus_dirs):
    a, b, c = corpus_dirs.values()
    # default weights: proportional to each dataset's full batches (19//4, 9//4, 20//4) -> one pass per epoch
    sampler = PretrainingCorpus([a, b, c]).batch_sampler(4, seed=5)
    assert sampler.batches_per_epoch == 11 and list(sampler.batches_per_dataset) == [4, 2, 5]
    for epoch in range(3):
        plans = [sampler.global_batch(epoch * 11 + s) for s in range(11)]
        assert [sum(p.dataset_index == i for p in plans) for i in range(3)] == [4, 2, 5]
        for i, n in enumerate((19, 9, 20)):  # one pass: every drawn row once, N // 4 * 4 of them
            rows = np.concatenate([p.rows for p in plans if p.dataset_index == i])
            assert len(set(rows.tolist())) == len(rows) == n // 4 * 4
    # "a:1,b,c:2" up-samples c: weights 4 : 2 : 10 of 11 batches -> 3, 1, 7 per epoch (largest remainders)
    sampler = PretrainingCorpus(f"{a}:1,{b},{c}:2").batch_sampler(4, seed=5)
    counts = np.bincount([sampler.global_batch(k).dataset_index for k in range(33)], minlength=3)
    assert list(counts) == [9, 3, 21]
    # absolute weights 1 : 1 : 2 over an 8-batch epoch -> exactly 2, 2, 4 per epoch
    sampler = PretrainingCorpus(f"{a}:1,{b}:1,{c}:2", weighting="absolute").batch_sampler(
        4, seed=5, batches_per_epoch=8)  # fmt: skip
    for epoch in range(2):
        assert list(np.bincount(sampler.epoch_schedule(epoch), minlength=3)) == [2, 2, 4]
    # weight 0: never drawn, even with fewer rows than a batch
    sampler = PretrainingCorpus(f"{a},{b}:0,{c}").batch_sampler(12, seed=5)
    assert {sampler.global_batch(k).dataset_index for k in range(20)} == {0, 2}
    # seeded: the same seed gives the same batches, another seed other ones
    same = [PretrainingCorpus([a, b, c]).batch_sampler(4, seed=s) for s in (5, 5, 6)]
    plans = [[(p.dataset_index, p.rows.tolist()) for p in map(s.global_batch, range(22))] for s in same]
    assert plans[0] == plans[1] and plans[0] != plans[2]


def test_one_and_two_processes_draw_the_same_global_batches(corpus):
    one = list(corpus.batch_sampler(4, seed=1, num_batches=25))
    ranks = [list(corpus.batch_sampler(4, seed=1, num_processes=2, process_index=r, num_batches=25))
             for r in range(2)]  # fmt: skip
    assert all(len(k) == 2 for k in ranks[0])
    assert [r0 + r1 for r0, r1 in zip(*ranks)] == one
    with pytest.raises(CorpusError, match="does not split evenly over 3 processes"):
        corpus.batch_sampler(4, num_processes=3)


def test_resume_after_k_steps_continues_the_stream_exactly(corpus):
    full = list(corpus.batch_sampler(4, seed=9, num_batches=30))
    sampler = corpus.batch_sampler(4, seed=9)
    it = iter(sampler)
    for _ in range(7):
        next(it)
    state = json.loads(json.dumps(sampler.state_dict()))  # as saved in a checkpoint
    assert state["step"] == 7
    resumed = corpus.batch_sampler(4, seed=9, num_batches=23)  # a new process
    resumed.load_state_dict(state)
    assert list(resumed) == full[7:]  # crosses the epoch boundary at step 11
    # a different world size may resume the same state
    halves = [corpus.batch_sampler(4, seed=9, num_processes=2, process_index=r, num_batches=23) for r in range(2)]
    for h in halves:
        h.load_state_dict(state)
    assert [a + b for a, b in zip(*halves)] == full[7:]
    with pytest.raises(CorpusError, match="seed: saved 9, now 10"):
        corpus.batch_sampler(4, seed=10).load_state_dict(state)
    with pytest.raises(CorpusError, match="global_batch_size"):
        corpus.batch_sampler(8, seed=9).load_state_dict(state)


def test_dataloader_with_workers_yields_the_same_batches_and_resumes(corpus):
    from torch.utils.data import DataLoader

    def loader(workers, **kw):
        sampler = corpus.batch_sampler(4, seed=2, **kw)
        data = DataLoader(corpus.torch_dataset(with_keys=True), batch_sampler=sampler, num_workers=workers,
                          collate_fn=collate_with_keys)  # fmt: skip
        return sampler, data

    _, plain = loader(0, num_batches=14)
    reference = list(plain)
    sampler, parallel = loader(2, num_batches=14)
    it = iter(parallel)
    got = [next(it) for _ in range(5)]
    # the workers have drawn batches ahead; the state of the batch last *used* is what resumes exactly
    assert sampler.state_dict()["step"] > 5
    state = sampler.state_after(got[-1]["sample_keys"])
    got += list(it)
    assert len(got) == len(reference) == 14
    for a, b in zip(got, reference):
        assert set(a) == set(b)
        for key in a:
            assert torch.equal(a[key], b[key]), key
    resumed_sampler, resumed = loader(2, num_batches=9)
    resumed_sampler.load_state_dict(state)
    for a, b in zip(resumed, reference[5:], strict=True):
        assert torch.equal(a["input_values"], b["input_values"])
        assert torch.equal(a["sample_keys"], b["sample_keys"])


def test_bad_corpora_are_refused_with_the_dataset_named(corpus_dirs, tmp_path):
    a, b, c = corpus_dirs.values()
    with pytest.raises(CorpusError, match=r"b8x8: 9 windows, fewer than one global batch of 12") as err:
        PretrainingCorpus([a, b, c]).batch_sampler(12)
    assert "weight 0" in err.value.hint
    with pytest.raises(CorpusError, match="no such dataset directory"):
        PretrainingCorpus([a, str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="not a saved dataset"):
        PretrainingCorpus([a, str(tmp_path / "empty")])
    # a dataset prepared with other filters cannot join the corpus
    other = tmp_path / "other_filter"
    shutil.copytree(b, other)
    config = json.loads((other / "preprocessor_config.json").read_text())
    config["h_freq"] = 40.0
    (other / "preprocessor_config.json").write_text(json.dumps(config))
    with pytest.raises(CorpusError, match=r"h_freq: .* 75\.0 vs .* 40\.0"):
        PretrainingCorpus([a, str(other)])
    with pytest.raises(CorpusError, match="every dataset of the corpus has weight 0"):
        PretrainingCorpus(f"{a}:0,{c}:0")
    with pytest.raises(CorpusError, match="1 weights for 3 datasets"):
        CorpusBatchSampler([19, 9, 20], 4, weights=[1.0])


def test_in_memory_datasets_and_channel_padding_within_a_dataset(corpus_dirs):
    """A dataset whose windows have different channel sets is still one shape per batch in time; the collator pads
    its channels with a channel_mask. In-memory datasets and explicit weights work too."""
    import datasets

    from labram_hf.data.builder import make_features

    real = datasets.load_from_disk(corpus_dirs["c23x2"]).with_format("numpy")
    counts = [23 if i % 2 else 10 for i in range(len(real))]  # alternate the full montage and its first 10 channels
    mixed = datasets.Dataset.from_dict(
        {"input_values": [v[:c] for v, c in zip(real["input_values"], counts)],
         "channel_ids": [v[:c] for v, c in zip(real["channel_ids"], counts)],
         "source": real["source"], "start": real["start"]},
        features=make_features(400),
    )  # fmt: skip
    other = datasets.load_from_disk(corpus_dirs["a19x4"])
    corpus = PretrainingCorpus([mixed, other], weights=[3, 1])
    assert corpus.names == ["dataset 0", "dataset 1"] and corpus.window_samples == [400, 800]
    sampler = corpus.batch_sampler(4, seed=0, num_batches=9)
    reader = corpus.torch_dataset()
    padded = 0
    for step, keys in enumerate(sampler):
        plan = sampler.global_batch(step)
        batch = LaBraMDataCollator()(reader.__getitems__(keys))
        if plan.dataset_index == 1:
            assert tuple(batch["input_values"].shape) == (4, 19, 800) and "channel_mask" not in batch
            continue
        expected = [counts[r] for r in plan.rows]
        assert batch["input_values"].shape[2] == 400
        if len(set(expected)) > 1:
            padded += 1
            assert batch["channel_mask"].sum(1).tolist() == expected
            for j, r in enumerate(plan.rows):
                np.testing.assert_array_equal(batch["input_values"][j, : expected[j]].numpy(),
                                              real["input_values"][r][: expected[j]])  # fmt: skip
                assert not batch["input_values"][j, expected[j]:].any()
    assert padded > 0
    # weights 3 : 1 on full batches 5 and 4 -> 15 : 4 of 9 batches -> 7 and 2 per epoch
    assert list(sampler.batches_per_dataset) == [7, 2]
