"""The end-to-end demo on real EEG (``labram demo`` / ``make demo``): tokenizer -> pre-training -> fine-tuning.

>>> from labram_hf.demo import run_demo
>>> results = run_demo("demo-output")              # ~3 minutes on 2 CPU cores; quick=True: < 1 minute

Everything runs in this process, with the training stages of :mod:`labram_hf.training`:

1. fetch the sample recordings (:mod:`labram_hf.sample_data`: two clinical recordings with technician-annotated
   asleep/awake spans, and an unlabelled TUH recording) and preprocess them the LaBraM way (0.1-75 Hz band-pass,
   60 Hz notch - the recordings are American - 200 Hz, microvolts / 100);
2. cut windows: labelled asleep/awake windows of the *train* recording (split 80/20 into training and validation
   for best-model selection) and of the *test* recording (another subject, used only for testing), plus every
   window of the train recording and the TUH recording, unlabelled, for the self-supervised stages;
3. train a small VQ-NSP tokenizer; 4. masked EEG pre-training; 5. fine-tune sleep vs wake (``Trainer``);
6. compare with (a) the same model trained from scratch and (b) band power + logistic regression;
7. save the fine-tuned model as a Hugging Face directory ``OUTPUT/model`` (weights, ``config.json`` with
   ``auto_map``, the model code, ``preprocessor_config.json``, a model card ``README.md`` with the metrics and
   ``training_metadata.json``), plots (``OUTPUT/plots``) and ``OUTPUT/results.json``;
8. reload ``OUTPUT/model`` with ``AutoModelForSequenceClassification`` and check that it reproduces the test
   predictions, from the test windows and from the raw test recording through the saved feature extractor;
9. with ``both_directions`` (``labram demo --both-directions``), run steps 2-6 once more the other way round
   (train on the test recording, test on the train recording) under ``OUTPUT/reverse``; ``OUTPUT/results.md``
   holds the table of every direction (the "real run" of the documentation, ``docs/real_run/``).

Every window dataset carries its preprocessing contract (``preprocessor_config.json``, ``label_schema.json``), so
each stage saves the extractor it was trained with and the fine-tuned model's classes come from the data.

Sizes are small (a 4-block model of width 100, a 256-code tokenizer, ~30 minutes of EEG per subject), so the
numbers show that the pipeline runs and learns, not what LaBraM-Base reaches.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import LaBraMError

__all__ = ["DEFAULT_SETTINGS", "QUICK_SETTINGS", "DemoError", "DemoSettings", "run_demo"]

#: Marker file of a demo output directory (a later demo run may replace such a directory without --overwrite).
MARKER = ".labram-demo"
#: What the demo writes into its output directory (--overwrite removes exactly these).
OUTPUT_ENTRIES = (MARKER, "data", "stages", "model", "plots", "reverse", "results.json", "results.md")
BANDS = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
LABELS = {0: "awake", 1: "asleep"}
METHOD_PRETRAINED = "LaBraM (tokenizer + pre-training + fine-tuning)"
METHOD_SCRATCH = "(a) LaBraM from scratch (same fine-tuning)"
METHOD_BANDPOWER = "(b) band power + logistic regression"
METRICS = ("accuracy", "balanced_accuracy", "auroc", "aupr")


class DemoError(LaBraMError):
    """A user-facing problem (output directory, missing optional dependency, no data); ``hint`` says what to do."""


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo (defaults: ~3 CPU minutes)."""

    train_recording: str = "absence"
    window_seconds: int = 4
    validation_fraction: float = 0.2
    batch_size: int = 32
    tokenizer_steps: int = 200
    tokenizer_layers: int = 2
    n_code: int = 256
    code_dim: int = 32
    tokenizer_lr: float = 1e-4
    #: codebook EMA decay (original: 0.99); 0.9 keeps far more codes in use on these ~30 minutes of EEG
    tokenizer_ema_decay: float = 0.9
    pretrain_steps: int = 250
    num_layers: int = 4
    finetune_epochs: float = 10
    scratch: bool = True
    #: keep at most this many windows per split (None: all) - for quick runs
    max_windows: dict[str, int] | None = None
    seed: int = 0
    #: also train on the test recording and test on the train recording (OUTPUT/reverse)
    both_directions: bool = False

    @property
    def test_recording(self) -> str:
        return "spasms" if self.train_recording == "absence" else "absence"


DEFAULT_SETTINGS = DemoSettings()
QUICK_SETTINGS = DemoSettings(
    batch_size=16, tokenizer_steps=4, n_code=64, code_dim=16, tokenizer_lr=1e-3, pretrain_steps=4, num_layers=2,
    finetune_epochs=2, max_windows={"train": 48, "validation": 16, "test": 48, "unlabelled": 64},
)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------------------


class _Stages:
    """Numbered stage headers with timings."""

    def __init__(self, total: int):
        self.total, self.index, self.timings = total, 0, {}
        self._name, self._started = None, None

    def start(self, key: str, text: str) -> None:
        self.finish()
        self.index += 1
        self._name, self._started = key, time.perf_counter()
        print(f"[{self.index}/{self.total}] {text}", flush=True)

    def finish(self) -> None:
        if self._name is not None:
            self.timings[self._name] = round(time.perf_counter() - self._started, 1)
            self._name = None


@contextlib.contextmanager
def _quiet_libraries():
    """Silence library chatter (datasets' save bars, mne/sklearn/transformers warnings) while the demo runs."""
    import datasets
    from transformers.utils import logging as hf_logging

    bars = datasets.utils.logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    datasets.utils.logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            datasets.utils.logging.enable_progress_bar()


def _check_dependencies() -> None:
    missing = []
    for module, package in (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib"), ("scipy", "scipy")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise DemoError(
            f"the demo needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed",
            hint="pip install 'labram-hf[demo]'  (or: make demo, which installs everything)",
        )


def prepare_output_dir(output: Path, overwrite: bool) -> None:
    """Refuse a non-empty directory that is not an earlier demo output unless ``overwrite``; then clear the demo's
    own entries (never anything else)."""
    if output.exists() and not output.is_dir():
        raise DemoError(f"{output} exists and is not a directory", hint="choose another --output DIR")
    if output.is_dir() and any(output.iterdir()) and not (output / MARKER).exists() and not overwrite:
        raise DemoError(
            f"{output} exists and is not empty (and is not an earlier demo output)",
            hint="choose another directory with --output DIR (make demo: OUTPUT=DIR make demo), or pass --overwrite "
            "to replace the demo's files there",
        )
    output.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_ENTRIES:
        path = output / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (output / MARKER).write_text("written by `labram demo`; a later `labram demo` run may replace this directory\n")


# ----------------------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------------------


def demo_feature_extractor(window_seconds: int):
    """The preprocessing of the demo as a feature extractor (saved with every model the demo writes)."""
    from .feature_extraction_labram import LaBraMFeatureExtractor

    return LaBraMFeatureExtractor(notch_freq=60.0, channel_policy="lenient", window_seconds=window_seconds)


def load_recordings(names, feature_extractor) -> dict[str, Any]:
    """Fetch (first run: download from PyPI) and preprocess the sample recordings; ``{name: (raw, PreprocessedEEG)}``."""
    from tqdm.auto import tqdm

    from .channels import TUH_CHANNELS
    from .sample_data import fetch_sample_data, load_sample_raw

    try:
        fetch_sample_data()
    except RuntimeError as err:
        raise DemoError(f"could not fetch the sample recordings: {err}",
                        hint="the recordings come from PyPI (the eeghdf sdist); check the network or pip's index "
                             "settings, or set LABRAM_HF_DATA to a directory holding them") from None  # fmt: skip
    out = {}
    for name in tqdm(names, desc="preprocessing", unit="recording", dynamic_ncols=True):
        raw = load_sample_raw(name)
        if name == "tuh":
            pre = feature_extractor.preprocess_one(raw, channels=TUH_CHANNELS, channel_policy="strict")
        else:
            pre = feature_extractor.preprocess_one(raw)
        out[name] = (raw, pre)
    return out


def labelled_windows(raw, pre, window_seconds: int):
    """Asleep/awake windows of a recording (where :func:`labram_hf.sample_data.sleep_wake_windows` puts them): values
    [N, C, T], labels [N], start times [N] (seconds)."""
    from .sample_data import sleep_wake_windows

    n = int(window_seconds * pre.sfreq)
    xs, ys, starts = [], [], []
    for w in sleep_wake_windows(raw, window_seconds=window_seconds):
        i = int(round(w.start_seconds * pre.sfreq))
        if i + n <= pre.values.shape[1]:
            xs.append(pre.values[:, i : i + n])
            ys.append(int(w.label))
            starts.append(float(w.start_seconds))
    return np.stack(xs), np.asarray(ys, dtype=np.int64), np.asarray(starts)


def all_windows(pre, window_seconds: int) -> np.ndarray:
    """Every non-overlapping window of a preprocessed recording (:meth:`PreprocessedEEG.windows`): [N, C, T]."""
    return np.stack([values for _, values in pre.windows(window_seconds)])


def save_windows(path: Path, windows, channel_ids, labels=None, source: str = "", starts=None, *, feature_extractor):
    """Save windows as an Arrow window dataset with its contract: ``feature_extractor`` (how they were
    preprocessed) and the label schema (the asleep/awake classes, or none)."""
    import datasets

    from .data import make_features
    from .data.contract import LabelSchema, save_dataset_contract

    label_feature = datasets.ClassLabel(names=[LABELS[0], LABELS[1]]) if labels is not None else None
    features = make_features(windows[0].shape[-1], label_feature)
    rows = {
        "input_values": [np.asarray(w, dtype=np.float32) for w in windows],
        "channel_ids": [list(map(int, ids)) for ids in channel_ids],
        "source": [source] * len(windows),
        "start": [0.0] * len(windows) if starts is None else [float(s) for s in starts],
    }
    if labels is not None:
        rows["label"] = [int(y) for y in labels]
    ds = datasets.Dataset.from_dict(rows, features=features)
    ds.save_to_disk(str(path))
    schema = LabelSchema("class", (LABELS[0], LABELS[1])) if labels is not None else LabelSchema("none")
    save_dataset_contract(path, feature_extractor, schema)
    return ds


def _subsample(rng, n: int, limit: int | None) -> np.ndarray:
    idx = np.arange(n)
    if limit is not None and n > limit:
        idx = np.sort(rng.choice(n, size=limit, replace=False))
    return idx


def build_datasets(recordings, settings: DemoSettings, data_dir: Path, feature_extractor) -> dict[str, Any]:
    """Labelled train/validation (train recording), test (test recording) and unlabelled windows, saved to disk."""
    rng = np.random.default_rng(settings.seed)
    limits = settings.max_windows or {}
    tr_name, te_name = settings.train_recording, settings.test_recording
    raw_tr, pre_tr = recordings[tr_name]
    raw_te, pre_te = recordings[te_name]
    x_tr, y_tr, s_tr = labelled_windows(raw_tr, pre_tr, settings.window_seconds)
    x_te, y_te, s_te = labelled_windows(raw_te, pre_te, settings.window_seconds)
    order = rng.permutation(len(x_tr))
    n_val = int(round(len(order) * settings.validation_fraction))
    val_idx, fit_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    fit_idx = fit_idx[_subsample(rng, len(fit_idx), limits.get("train"))]
    val_idx = val_idx[_subsample(rng, len(val_idx), limits.get("validation"))]
    test_idx = _subsample(rng, len(x_te), limits.get("test"))
    unl = [all_windows(pre_tr, settings.window_seconds), all_windows(recordings["tuh"][1], settings.window_seconds)]
    unl_x = np.concatenate(unl)
    unl_ids = [pre_tr.channel_ids] * len(unl[0]) + [recordings["tuh"][1].channel_ids] * len(unl[1])
    unl_idx = _subsample(rng, len(unl_x), limits.get("unlabelled"))

    splits = {
        "train": (x_tr[fit_idx], y_tr[fit_idx], s_tr[fit_idx], [pre_tr.channel_ids] * len(fit_idx), tr_name),
        "validation": (x_tr[val_idx], y_tr[val_idx], s_tr[val_idx], [pre_tr.channel_ids] * len(val_idx), tr_name),
        "test": (x_te[test_idx], y_te[test_idx], s_te[test_idx], [pre_te.channel_ids] * len(test_idx), te_name),
    }
    out: dict[str, Any] = {"dirs": {}, "arrays": {}, "counts": {}}
    for split, (x, y, starts, ids, source) in splits.items():
        save_windows(data_dir / split, x, ids, y, source, starts, feature_extractor=feature_extractor)
        out["dirs"][split] = data_dir / split
        out["arrays"][split] = (x, y, starts)
        out["counts"][split] = {LABELS[k]: int((y == k).sum()) for k in LABELS}
    save_windows(data_dir / "unlabelled", unl_x[unl_idx], [unl_ids[i] for i in unl_idx], None, f"{tr_name}+tuh",
                 feature_extractor=feature_extractor)
    out["dirs"]["unlabelled"] = data_dir / "unlabelled"
    out["counts"]["unlabelled"] = int(len(unl_idx))
    return out


# ----------------------------------------------------------------------------------------------------------------------
# baseline, embeddings
# ----------------------------------------------------------------------------------------------------------------------


def band_power_features(windows: np.ndarray, sfreq: float = 200.0) -> np.ndarray:
    """Log mean power (Welch) in the delta, theta, alpha, beta and low-gamma bands, per channel: [N, C * 5]."""
    from scipy.signal import welch

    freqs, psd = welch(np.asarray(windows, dtype=np.float64) * 100.0, fs=sfreq,
                       nperseg=min(int(2 * sfreq), windows.shape[-1]), axis=-1)  # fmt: skip  # uV^2/Hz
    feats = [np.log(psd[..., (freqs >= lo) & (freqs < hi)].mean(axis=-1) + 1e-12) for lo, hi in BANDS]
    return np.concatenate(feats, axis=-1).reshape(len(windows), -1)


def band_power_baseline(x_train, y_train, x_test, y_test) -> tuple[dict[str, float], np.ndarray]:
    """Band power + standardisation + logistic regression; test metrics and test scores (P(asleep))."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .training import binary_metrics

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(band_power_features(x_train), y_train)
    scores = clf.predict_proba(band_power_features(x_test))[:, 1]
    return binary_metrics(y_test, scores), scores


def _batched_output(model, windows: np.ndarray, channel_ids, field: str, batch_size: int = 64) -> np.ndarray:
    """``model(...).<field>`` for every window, in batches, as one float64 array."""
    import torch

    ids = torch.as_tensor(np.asarray(channel_ids), dtype=torch.long)
    out = []
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(windows), batch_size):
            x = torch.as_tensor(windows[lo : lo + batch_size], dtype=torch.float32)
            out.append(getattr(model(input_values=x, channel_ids=ids[lo : lo + len(x)]), field).double().numpy())
    return np.concatenate(out)


def pooled_embeddings(backbone, windows: np.ndarray, channel_ids, batch_size: int = 64) -> np.ndarray:
    """The backbone's ``pooler_output`` for every window: [N, hidden_size]."""
    return _batched_output(backbone, windows, channel_ids, "pooler_output", batch_size)


def predict_logits(model, windows: np.ndarray, channel_ids, batch_size: int = 64) -> np.ndarray:
    """The classifier's logits for every window: [N, num_labels]."""
    return _batched_output(model, windows, channel_ids, "logits", batch_size)


def _pca2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    explained = s**2 / max(float((s**2).sum()), 1e-12)
    return x @ vt[:2].T, explained[:2]


# ----------------------------------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stage_panel(ax, log: list[dict], loss_label: str, terms: tuple[str, ...], right: tuple[str, str, str],
                 title: str) -> None:
    """One accelerate stage's curves: the loss and its ``terms`` on the left axis, ``right = (key, style, label)``
    on a twin axis."""
    steps = [r["step"] for r in log]
    ax.plot(steps, [r["loss"] for r in log], label=loss_label, color="C0")
    for key, color in zip(terms, ("C1", "C2", "C3")):
        ax.plot(steps, [r[key] for r in log], label=key.replace("_", " "), color=color, alpha=0.7)
    key, style, label = right
    twin = ax.twinx()
    twin.plot(steps, [r.get(key, np.nan) for r in log], style, label=label)
    twin.set_ylabel(label)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")


def plot_training_curves(path: Path, tokenizer_log, pretrain_log, histories: dict[str, list[dict]], title: str):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    _stage_panel(axes[0], tokenizer_log, "total loss", ("amplitude_loss", "phase_loss", "quantization_loss"),
                 ("codebook/used_codes", "k:", "codes used (per logging window)"), "1. VQ-NSP tokenizer")
    _stage_panel(axes[1], pretrain_log, "MEM loss (2 cross-entropies)", (),
                 ("mlm_accuracy", "g:", "masked-token accuracy"), "2. masked EEG pre-training")
    ax = axes[2]
    twin = ax.twinx()
    for (label, hist), style in zip(histories.items(), ("-", "--")):
        train = [(h["step"], h["loss"]) for h in hist if "loss" in h]
        val = [(h["step"], h["eval_balanced_accuracy"]) for h in hist if "eval_balanced_accuracy" in h]
        if train:
            ax.plot(*zip(*train), style, color="C0", label=f"{label}: training loss")
        if val:
            twin.plot(*zip(*val), style, color="C3", marker="o", ms=3, label=f"{label}: validation bal. acc.")
    twin.set_ylabel("validation balanced accuracy")
    twin.set_ylim(0, 1)
    ax.set_title("3. fine-tuning (sleep vs wake)")
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="lower left")
    for a in axes:
        a.set_xlabel("optimiser step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_embeddings(path: Path, panels: dict[str, np.ndarray], labels: np.ndarray, title: str):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (name, feats) in zip(axes[0], panels.items()):
        xy, explained = _pca2(feats)
        for k, color in ((0, "tab:orange"), (1, "tab:blue")):
            sel = labels == k
            ax.scatter(xy[sel, 0], xy[sel, 1], s=9, alpha=0.6, color=color, label=f"{LABELS[k]} ({int(sel.sum())})")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"PC 1 ({explained[0]:.0%})")
        ax.set_ylabel(f"PC 2 ({explained[1]:.0%})")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------------------------
# fine-tuning progress
# ----------------------------------------------------------------------------------------------------------------------


def _progress_callback(desc: str):
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class TqdmCallback(TrainerCallback):
        """One compact bar per fine-tuning run (training loss and validation balanced accuracy as postfix)."""

        def __init__(self):
            self.bar = None
            self.postfix: dict[str, str] = {}

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, desc=desc, unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is None or not logs:
                return
            if "loss" in logs:
                self.postfix["loss"] = f"{logs['loss']:.3g}"
            if "eval_balanced_accuracy" in logs:
                self.postfix["val_bal_acc"] = f"{logs['eval_balanced_accuracy']:.3f}"
            self.bar.set_postfix(self.postfix, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TqdmCallback()


# ----------------------------------------------------------------------------------------------------------------------
# the demo
# ----------------------------------------------------------------------------------------------------------------------


def _metrics_row(metrics: dict, prefix: str = "") -> dict[str, float]:
    return {k: float(metrics[f"{prefix}{k}"]) for k in METRICS if f"{prefix}{k}" in metrics}


def _table(results: dict[str, dict[str, float]]) -> str:
    width = max(len(m) for m in results)
    head = f"{'method':<{width}}  accuracy  bal.acc.  AUROC   AUPR"
    lines = [head, "-" * len(head)]
    for method, r in results.items():
        lines.append(f"{method:<{width}}  {r['accuracy']:>8.3f}  {r['balanced_accuracy']:>8.3f}  "
                     f"{r['auroc']:>5.3f}  {r['aupr']:>5.3f}")  # fmt: skip
    return "\n".join(lines)


def _size(path: Path) -> str:
    total = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    for unit in ("B", "KB", "MB", "GB"):
        if total < 1024 or unit == "GB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""  # pragma: no cover


def run_demo(
    output: str | os.PathLike = "demo-output",
    *,
    quick: bool = False,
    seed: int = 0,
    overwrite: bool = False,
    settings: DemoSettings | None = None,
) -> dict[str, Any]:
    """Run the demo into ``output`` (see the module docstring); returns what ``results.json`` holds.

    ``quick`` shrinks every stage (for tests, < 1 minute); ``settings`` overrides the sizes entirely.
    """
    started = time.perf_counter()
    _check_dependencies()
    settings = replace(settings or (QUICK_SETTINGS if quick else DEFAULT_SETTINGS), seed=seed)
    if settings.train_recording not in ("absence", "spasms"):
        raise DemoError(f"unknown train recording {settings.train_recording!r}", hint="use absence or spasms")
    output = Path(output)
    prepare_output_dir(output, overwrite)
    with _quiet_libraries():
        results = _run(output, settings, quick, started)
    return results


def _direction_summary(direction: dict[str, Any]) -> dict[str, Any]:
    """What results.json records of one direction."""
    tok_logs = direction["tokenizer"].get("last_logs") or {}
    mem_logs = direction["pretraining"].get("last_logs") or {}
    return {
        "train": direction["train"],
        "test": direction["test"],
        "windows": direction["data"]["counts"],
        "test_metrics": direction["metrics"],
        "validation_metrics": {METHOD_PRETRAINED: direction["validation"]},
        "tokenizer": {k: v for k, v in tok_logs.items() if k.startswith("codebook/")},
        "pretraining": {k: mem_logs.get(k) for k in ("loss", "mlm_accuracy")},
    }


def directions_table(directions: list[dict[str, Any]]) -> str:
    """Markdown table of the test metrics of every direction (``results.md``)."""
    lines = ["| train → test | method | accuracy | balanced acc. | AUROC | AUPR |", "|---|---|---|---|---|---|"]
    for d in directions:
        for method, r in d["test_metrics"].items():
            lines.append(f"| {d['train']} → {d['test']} | {method} | {r['accuracy']:.3f} | "
                         f"{r['balanced_accuracy']:.3f} | {r['auroc']:.3f} | {r['aupr']:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _train_direction(root: Path, settings: DemoSettings, recordings, fe, stages: _Stages, quick: bool,
                     tag: str = "") -> dict[str, Any]:  # fmt: skip
    """Steps 2-6 of the module docstring for one direction (train on ``settings.train_recording``, test on
    ``settings.test_recording``), written under ``root`` (``data/``, ``stages/``)."""
    from .training import (
        FinetuningArguments,
        PretrainingArguments,
        TokenizerArguments,
        finetune,
        pretrain,
        train_tokenizer,
    )

    tr_name, te_name = settings.train_recording, settings.test_recording
    data_dir, stages_dir = root / "data", root / "stages"
    label = f"{tr_name} -> {te_name}: " if tag else ""

    stages.start(f"{tag}windows", f"{label}Cutting {settings.window_seconds}-s windows into Arrow datasets")
    data = build_datasets(recordings, settings, data_dir, fe)
    counts = data["counts"]
    for split in ("train", "validation", "test"):
        c = counts[split]
        src = tr_name if split != "test" else te_name
        print(f"    {split:<10} {c['awake'] + c['asleep']:>4} windows of '{src}' ({c['awake']} awake, "
              f"{c['asleep']} asleep)")  # fmt: skip
    print(f"    unlabelled {counts['unlabelled']:>4} windows ('{tr_name}' + 'tuh', labels unused) for the "
          "self-supervised stages")  # fmt: skip

    # Each stage makes its own Accelerator / Trainer in this process; they share accelerate's process state, which
    # stays valid because every stage runs on the same device with the same precision. The windows are few and
    # memory-mapped: DataLoader worker processes would only add start-up time.
    loop = dict(seed=settings.seed, report_to="none", progress=True, log_every=2 if quick else 5, num_workers=0,
                per_device_batch_size=settings.batch_size)  # fmt: skip
    tok_dir, mem_dir = stages_dir / "tokenizer", stages_dir / "pretrain"
    stages.start(f"{tag}tokenizer", f"{label}Training the VQ-NSP tokenizer ({settings.n_code} codes x "
                 f"{settings.code_dim}, {settings.tokenizer_steps} steps)")  # fmt: skip
    tok_summary = train_tokenizer(TokenizerArguments(
        dataset_dir=str(data["dirs"]["unlabelled"]), output_dir=str(tok_dir), preset="tiny",
        num_layers=settings.tokenizer_layers, n_code=settings.n_code, code_dim=settings.code_dim,
        max_steps=settings.tokenizer_steps, lr=settings.tokenizer_lr, ema_decay=settings.tokenizer_ema_decay, **loop,
    ))  # fmt: skip

    stages.start(f"{tag}pretrain", f"{label}Masked EEG pre-training ({settings.num_layers} blocks of width 100, "
                 f"{settings.pretrain_steps} steps)")  # fmt: skip
    mem_summary = pretrain(PretrainingArguments(
        dataset_dir=str(data["dirs"]["unlabelled"]), tokenizer=str(tok_dir), output_dir=str(mem_dir), preset="tiny",
        num_layers=settings.num_layers, max_steps=settings.pretrain_steps, **loop,
    ))  # fmt: skip

    description = (
        f"Technician-annotated asleep/awake spans of the '{tr_name}' sample recording (labram_hf.sample_data; a "
        f"clinical EEG from the eeghdf package), cut into {settings.window_seconds}-s windows; "
        f"{int(round(settings.validation_fraction * 100))} % of them (random) held out for best-model selection. "
        f"Test set: all windows of the '{te_name}' recording (another subject). Self-supervised stages: every "
        f"window of '{tr_name}' plus an unlabelled TUH recording."
    )
    common = dict(
        train_dataset=str(data["dirs"]["train"]), eval_dataset=str(data["dirs"]["validation"]),
        test_dataset=str(data["dirs"]["test"]), preset="tiny", num_layers=settings.num_layers,
        num_epochs=settings.finetune_epochs, batch_size=settings.batch_size, metric_for_best_model="balanced_accuracy",
        logging_steps=2 if quick else 5, save_total_limit=1, seed=settings.seed, report_to="none", quiet=True,
        dataset_name=f"labram_hf sample recordings: sleep vs wake ('{tr_name}')", dataset_description=description,
    )  # fmt: skip
    runs = {}
    stages.start(f"{tag}finetune", f"{label}Fine-tuning the pre-trained model: sleep vs wake "
                 f"({settings.finetune_epochs:g} epochs, best epoch by validation balanced accuracy)")  # fmt: skip
    runs["pretrained"] = finetune(FinetuningArguments(model=str(mem_dir), output_dir=str(stages_dir / "finetune"),
                                                      **common), callbacks=[_progress_callback("fine-tuning")])  # fmt: skip
    if settings.scratch:
        stages.start(f"{tag}scratch", f"{label}(a) The same model and fine-tuning from random initialisation")
        runs["scratch"] = finetune(FinetuningArguments(model="scratch", output_dir=str(stages_dir / "scratch"),
                                                       **common), callbacks=[_progress_callback("from scratch")])  # fmt: skip
    for name in ("finetune", "scratch"):  # Trainer checkpoints (optimiser states) are not needed afterwards
        for ckpt in (stages_dir / name).glob("checkpoint-*"):
            shutil.rmtree(ckpt, ignore_errors=True)

    stages.start(f"{tag}baseline", f"{label}(b) Band power (Welch, 5 bands x 23 channels) + logistic regression")
    x_fit, y_fit, _ = data["arrays"]["train"]
    x_test, y_test, _ = data["arrays"]["test"]
    bp_metrics, bp_scores = band_power_baseline(x_fit, y_fit, x_test, y_test)
    metrics = {METHOD_PRETRAINED: _metrics_row(runs["pretrained"]["test"], "test_")}
    if "scratch" in runs:
        metrics[METHOD_SCRATCH] = _metrics_row(runs["scratch"]["test"], "test_")
    metrics[METHOD_BANDPOWER] = _metrics_row(bp_metrics)
    return {
        "train": tr_name, "test": te_name, "data": data, "runs": runs, "tokenizer": tok_summary,
        "pretraining": mem_summary, "metrics": metrics, "validation": _metrics_row(runs["pretrained"]["eval"], "eval_"),
        "band_power_scores": bp_scores, "dirs": {"stages": stages_dir, "tokenizer": tok_dir, "pretrained": mem_dir},
    }  # fmt: skip


def _plot_direction_curves(path: Path, direction: dict[str, Any]) -> None:
    stages_dir = direction["dirs"]["stages"]
    histories = {"pre-trained": direction["runs"]["pretrained"]["log_history"]}
    if "scratch" in direction["runs"]:
        histories["from scratch"] = direction["runs"]["scratch"]["log_history"]
    tr_name = direction["train"]
    plot_training_curves(path, read_jsonl(stages_dir / "tokenizer" / "log.jsonl"),
                         read_jsonl(stages_dir / "pretrain" / "log.jsonl"), histories,
                         f"labram demo: self-supervised stages on '{tr_name}' + 'tuh' windows, fine-tuning on "
                         f"'{tr_name}' sleep vs wake (test: '{direction['test']}')")  # fmt: skip


def _run(output: Path, settings: DemoSettings, quick: bool, started: float) -> dict[str, Any]:
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForSequenceClassification

    from . import LaBraMForSequenceClassification, LaBraMModel
    from .hub import assemble_upload_folder
    from .training import update_training_metadata

    tr_name, te_name = settings.train_recording, settings.test_recording
    model_dir, plots_dir = output / "model", output / "plots"
    per_direction = 6 if settings.scratch else 5
    stages = _Stages(3 + per_direction * (2 if settings.both_directions else 1))
    fe = demo_feature_extractor(settings.window_seconds)
    print(f"labram demo{' (quick)' if quick else ''}: sleep vs wake on real EEG, trained on '{tr_name}', tested on "
          f"'{te_name}' (another subject){' and the other way round' if settings.both_directions else ''}; "
          f"output: {output}", flush=True)  # fmt: skip

    stages.start("data", "Fetching and preprocessing the sample recordings (0.1-75 Hz, 60 Hz notch, 200 Hz)")
    recordings = load_recordings([tr_name, te_name, "tuh"], fe)
    main = _train_direction(output, settings, recordings, fe, stages, quick)
    metrics, validation, runs, data = main["metrics"], main["validation"], main["runs"], main["data"]
    tok_dir, mem_dir, stages_dir = main["dirs"]["tokenizer"], main["dirs"]["pretrained"], main["dirs"]["stages"]

    stages.start("save", "Saving the fine-tuned model as a Hugging Face directory, plots and results")
    test_label = f"test ('{te_name}')"
    card_rows = [{"model": METHOD_PRETRAINED, "split": f"validation ('{tr_name}')", **validation}]
    card_rows += [{"model": m, "split": test_label, **r} for m, r in metrics.items()]
    ft_dir = stages_dir / "finetune"
    update_training_metadata(ft_dir, {
        "model_name": "LaBraM sleep/wake demo (labram-hf)",
        "metrics": card_rows,
        "tags": ["sleep", "demo"],
        "intended_use": (
            "A demonstration of the labram-hf pipeline, trained in minutes on a CPU on two short clinical "
            "recordings; it is not a sleep-staging model."
        ),
        "training": {
            "initialisation": "the model pre-trained in this demo (stages/pretrain)",
            "tokenizer": f"{settings.n_code} codes x {settings.code_dim}, {settings.tokenizer_steps} steps, "
            f"codebook EMA decay {settings.tokenizer_ema_decay:g}",
            "pre-training": f"masked EEG modelling, {settings.pretrain_steps} steps",
        },
    })  # fmt: skip
    assemble_upload_folder(ft_dir, model_dir, overwrite=True)
    shutil.copyfile(ft_dir / "training_metadata.json", model_dir / "training_metadata.json")

    _plot_direction_curves(plots_dir / "training_curves.png", main)
    x_test, y_test, s_test = data["arrays"]["test"]
    test_ids = [recordings[te_name][1].channel_ids] * len(x_test)
    backbone = LaBraMModel.from_pretrained(str(mem_dir))
    finetuned = LaBraMForSequenceClassification.from_pretrained(str(ft_dir))
    panels = {
        "band power (log, 5 bands x 23 channels)": band_power_features(x_test),
        "pre-trained encoder, before fine-tuning\n(pooled embedding, no labels seen)": pooled_embeddings(
            backbone, x_test, test_ids),
        f"fine-tuned on '{tr_name}'\n(pooled embedding)": pooled_embeddings(finetuned.labram, x_test, test_ids),
    }  # fmt: skip
    plot_embeddings(plots_dir / "embeddings.png", panels, y_test,
                    f"Test windows ('{te_name}', never used for training): first two principal components, "
                    "coloured by the technicians' labels")  # fmt: skip

    stages.start("reload", "Reloading the saved model with AutoModelForSequenceClassification and predicting")
    reloaded = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    stored = runs["pretrained"]["test_predictions"]
    logits = predict_logits(reloaded, x_test, test_ids)
    predictions = logits.argmax(-1)
    saved_fe = AutoFeatureExtractor.from_pretrained(str(model_dir))
    raw_te = recordings[te_name][0]
    pre = saved_fe.preprocess_one(raw_te)  # the saved preprocessing, applied to the raw recording
    n = int(settings.window_seconds * pre.sfreq)
    cut = np.stack([pre.values[:, int(round(s * pre.sfreq)) : int(round(s * pre.sfreq)) + n] for s in s_test])
    logits_raw = predict_logits(reloaded, cut, [pre.channel_ids] * len(cut))
    reload_check = {
        "windows": int(len(predictions)),
        "predictions_equal_evaluation": bool(np.array_equal(predictions, np.asarray(stored["predictions"]))),
        "max_abs_logit_difference": float(np.abs(logits - np.asarray(stored["logits"])).max()),
        "raw_recording_through_feature_extractor": {
            "max_abs_input_difference": float(np.abs(cut - x_test).max()),
            "predictions_equal_evaluation": bool(np.array_equal(logits_raw.argmax(-1), predictions)),
        },
    }
    if not reload_check["predictions_equal_evaluation"]:
        raise RuntimeError(f"the reloaded model does not reproduce the evaluation's predictions: {reload_check}")
    if not reload_check["raw_recording_through_feature_extractor"]["predictions_equal_evaluation"]:
        raise RuntimeError(f"the saved feature extractor does not reproduce the test windows: {reload_check}")

    directions = [_direction_summary(main)]
    paths: dict[str, str] = {}
    if settings.both_directions:
        reverse_settings = replace(settings, train_recording=te_name)
        reverse = _train_direction(output / "reverse", reverse_settings, recordings, fe, stages, quick, "reverse_")
        curves = plots_dir / f"training_curves_{te_name}_to_{tr_name}.png"
        _plot_direction_curves(curves, reverse)
        directions.append(_direction_summary(reverse))
        paths = {"reverse": str(output / "reverse"), "reverse_training_curves": str(curves)}
    stages.finish()

    total = time.perf_counter() - started
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs = probs[:, 1] / probs.sum(-1)
    results = {
        "settings": {**asdict(settings), "test_recording": te_name, "quick": quick},
        **{k: v for k, v in directions[0].items() if k not in ("train", "test")},
        "directions": directions,
        "reload_check": reload_check,
        "test_predictions": {
            "recording": te_name,
            "start_seconds": [float(s) for s in s_test],
            "labels": [int(y) for y in y_test],
            "predictions": [int(p) for p in predictions],
            "probability_asleep": [float(p) for p in probs],
            "band_power_probability_asleep": [float(p) for p in main["band_power_scores"]],
        },
        "timings_s": stages.timings,
        "total_seconds": round(total, 1),
        "torch_threads": torch.get_num_threads(),
        "paths": {
            "model": str(model_dir),
            "model_card": str(model_dir / "README.md"),
            "training_curves": str(plots_dir / "training_curves.png"),
            "embeddings": str(plots_dir / "embeddings.png"),
            "results": str(output / "results.json"),
            "results_table": str(output / "results.md"),
            "datasets": str(output / "data"),
            "tokenizer": str(tok_dir),
            "pretrained": str(mem_dir),
            "finetune_run": str(ft_dir),
            **({"scratch_run": str(stages_dir / "scratch")} if settings.scratch else {}),
            **paths,
        },
    }
    (output / "results.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    (output / "results.md").write_text(directions_table(directions))
    _print_summary(results, output, validation)
    return results


def _print_summary(results: dict, output: Path, validation: dict) -> None:
    s = results["settings"]
    check = results["reload_check"]
    print()
    print(f"Test set: {check['windows']} windows of '{s['test_recording']}' (a different subject from training)")
    print(_table(results["test_metrics"]))
    print(f"(validation on held-out '{s['train_recording']}' windows, pre-trained model: balanced accuracy "
          f"{validation.get('balanced_accuracy', float('nan')):.3f}, AUROC {validation.get('auroc', float('nan')):.3f})")  # fmt: skip
    for direction in results["directions"][1:]:
        print(f"\nThe other way round: trained on '{direction['train']}', tested on '{direction['test']}'")
        print(_table(direction["test_metrics"]))
    print(f"Reloaded with AutoModelForSequenceClassification: predictions identical to the evaluation "
          f"({check['windows']} windows, max logit difference {check['max_abs_logit_difference']:.1e}); from the raw "
          f"recording through the saved feature extractor: identical too.")  # fmt: skip
    print()
    print("Produced:")
    p = results["paths"]
    model = Path(p["model"])
    rows = [
        (model, "fine-tuned model (AutoModelForSequenceClassification.from_pretrained)"),
        *((model / f, d) for f, d in (
            ("model.safetensors", "weights"),
            ("config.json", "config with auto_map (trust_remote_code works without labram-hf)"),
            ("modeling_labram.py", "model code (+ configuration_labram.py)"),
            ("preprocessor_config.json", "feature extractor: the preprocessing used here"),
            ("README.md", "model card with the metrics table"),
            ("training_metadata.json", "what the card was generated from"),
        )),
        (Path(p["training_curves"]), "tokenizer, pre-training and fine-tuning curves"),
        (Path(p["embeddings"]), "test windows' embeddings (PCA), asleep vs awake"),
        (Path(p["results"]), "all metrics, settings, timings and test predictions"),
        (Path(p["results_table"]), "the test metrics of every direction as a Markdown table"),
        (Path(p["datasets"]), "window datasets (train / validation / test / unlabelled; datasets.load_from_disk)"),
        (Path(p["tokenizer"]), "the trained VQ-NSP tokenizer"),
        (Path(p["pretrained"]), "the pre-trained model (LaBraMForMaskedEEGModeling)"),
    ]
    width = max(len(str(path)) for path, _ in rows)
    for path, what in rows:
        print(f"  {str(path):<{width}}  {_size(path):>9}  {what}")
    print()
    print(f"Done in {results['total_seconds']:.0f} s. Try: labram predict RECORDING.edf --model {model} "
          "--output predictions.csv")  # fmt: skip
    sys.stdout.flush()
