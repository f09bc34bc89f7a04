"""`labram predict`: per-window (and per-recording) class predictions of EEG files with a fine-tuned LaBraM
classifier, as CSV."""

from __future__ import annotations

import argparse
import math

from . import UserError
from .embed import (
    _description,
    add_inference_arguments,
    companion_path,
    output_target,
    prepare,
    printed_warnings,
    progress_printer,
    report_skipped,
)

#: How `--aggregate` pools the windows of a recording (labram_hf.pipeline_labram.AGGREGATIONS, without importing it).
AGGREGATIONS = ("mean", "max", "vote")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="per-window (and per-recording) predictions of a fine-tuned classifier on EEG files (CSV)",
        description=_description(
            "Classify every window of each EEG file with a fine-tuned LaBraMForSequenceClassification. Writes a "
            "CSV with the columns source, start, end (seconds), label (the predicted name from config.id2label), "
            "label_id, score (its probability) and prob_<label> per class (softmax; sigmoid per label for "
            "multi-label models, where a one-logit model predicts `<label>` or `not <label>` at --threshold). "
            "Non-finite logits (NaN/Inf) are an error: no label is ever written for them.\n"
            "\n"
            "With --aggregate, the windows of each recording are pooled into one row of OUT_recordings.csv (beside "
            "OUT.csv; e.g. predictions.csv -> predictions_recordings.csv) with the columns source, start, end (of "
            "its first and last window), n_windows, label, label_id, score and prob_<label>:\n"
            "  mean  the mean window probability per class; the label is the most probable class (multi-label: "
            "every label whose mean reaches --threshold) and score its mean probability;\n"
            "  max   the highest window probability per class, then as mean;\n"
            "  vote  the label most windows predict (ties: the higher mean probability; multi-label: per label, "
            "positive when most windows are), score = the fraction of windows that voted for it, prob_<label> = "
            "the mean probabilities and votes_<label> = the number of windows per label."
        ),
        epilog="examples:\n  labram predict rec1.edf --model my-finetuned-model --output predictions.csv\n"
        "  labram predict recordings/ --model my-finetuned-model --aggregate vote --output predictions.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_inference_arguments(parser, ".csv")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="probability threshold of multi-label models (0.5)"
    )
    parser.add_argument("--aggregate", choices=AGGREGATIONS, default=None,
                        help="also write one row per recording to OUT_recordings.csv, pooling its windows by the "
                             "mean or max probability, or by a majority vote of the window labels")  # fmt: skip
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..inference import predict_files

    if not (math.isfinite(args.threshold) and 0.0 < args.threshold < 1.0):
        raise UserError(f"--threshold must lie in (0, 1), got {args.threshold:g}", hint="e.g. --threshold 0.5")
    target = output_target(args, "predict")
    recordings_target = None
    if args.aggregate:  # checked now, with the main output
        recordings_target = output_target(args, "predict", companion_path(args.output, "recordings"),
                                          "recordings file")  # fmt: skip
    files, model, fe, target = prepare(args, "predict", target)
    with target as out, printed_warnings("predict"):
        table = predict_files(files, model, fe, batch_size=args.batch_size, threshold=args.threshold,
                              progress=progress_printer("predict", args.quiet), aggregate=args.aggregate,
                              interpolate_pos_encoding=args.interpolate_pos_encoding)  # fmt: skip
        report_skipped("predict", table)
        table.to_csv(out.work, index=False, float_format="%.6g")
        if recordings_target is None:
            written = [out.commit()]
        else:
            with recordings_target as rec_out:
                table.attrs["recordings"].to_csv(rec_out.work, index=False, float_format="%.6g")
                written = [out.commit(), rec_out.commit()]
    counts = table["label"].value_counts().to_dict() if "label" in table else {}
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    print(f"labram predict: wrote {len(table)} window predictions to {written[0]}" + (f" ({summary})" if summary else ""))
    if len(written) > 1:
        recordings = table.attrs["recordings"]
        print(f"labram predict: wrote {len(recordings)} recording predictions ({args.aggregate} of the windows) to "
              f"{written[1]}")  # fmt: skip
    return 0
