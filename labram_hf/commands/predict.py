"""`labram predict`: per-window class predictions of EEG files with a fine-tuned LaBraM classifier, as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import UserError
from .embed import _description, add_inference_arguments, prepare, progress_printer, report_skipped


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="per-window predictions of a fine-tuned classifier on EEG files (CSV)",
        description=_description(
            "Classify every window of each EEG file with a fine-tuned LaBraMForSequenceClassification. Writes a "
            "CSV with the columns source, start, end (seconds), label (the predicted name from config.id2label), "
            "label_id, score (its probability) and prob_<label> per class (softmax; sigmoid per label for "
            "multi-label models, where a one-logit model predicts `<label>` or `not <label>` at --threshold)."
        ),
        epilog="example: labram predict rec1.edf --model my-finetuned-model --output predictions.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inference_arguments(parser, ".csv")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="probability threshold of multi-label models (0.5)"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..inference import InferenceError, predict_files

    if not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must lie in (0, 1), got {args.threshold:g}")
    files, model, fe = prepare(args, "predict")
    try:
        table = predict_files(
            files, model, fe, window_seconds=args.window_seconds, stride_seconds=args.stride_seconds,
            batch_size=args.batch_size, threshold=args.threshold, progress=progress_printer("predict", args.quiet),
        )  # fmt: skip
    except InferenceError as err:
        raise UserError(str(err), hint=err.hint) from None
    report_skipped("predict", table)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    table.to_csv(tmp, index=False, float_format="%.6g")
    tmp.replace(output)
    counts = table["label"].value_counts().to_dict() if "label" in table else {}
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    print(f"labram predict: wrote {len(table)} window predictions to {output}" + (f" ({summary})" if summary else ""))
    return 0
