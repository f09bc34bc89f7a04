"""`labram demo`: the end-to-end demo on real EEG (what `make demo` runs)."""

from __future__ import annotations

import argparse
import textwrap

from . import UserError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo on real EEG recordings (tokenizer -> pre-training -> fine-tuning)",
        description=textwrap.dedent(
            """\
            The end-to-end demo, in about 3 minutes on 2 CPU cores: fetch the real sample recordings (from PyPI,
            cached), cut sleep/wake-labelled and unlabelled windows, train a small VQ-NSP tokenizer, pre-train by
            masked EEG modelling, fine-tune sleep vs wake on one subject and test on another, compare with the same
            model from scratch and with band power + logistic regression, save a Hugging Face model directory
            (OUTPUT/model: weights, config, model code, feature extractor, model card), plots (OUTPUT/plots) and
            OUTPUT/results.json, then reload the model with AutoModelForSequenceClassification and check its
            predictions."""
        ),
        epilog="examples: labram demo | labram demo --output /tmp/demo --quick | labram demo --both-directions",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", default="demo-output", metavar="DIR",
                        help="directory for everything the demo writes (default: demo-output)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute (a smoke test; poor metrics)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--train-recording", choices=["absence", "spasms"], default="absence",
                        help="recording to train on; the other one is the test set (default: absence)")  # fmt: skip
    parser.add_argument("--no-scratch", action="store_true", help="skip the from-scratch comparison (saves ~40 s)")
    parser.add_argument("--both-directions", action="store_true",
                        help="also train on the test recording and test on the train recording (OUTPUT/reverse; "
                             "OUTPUT/results.md holds both tables; about twice the time)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty directory that is not an earlier demo output (the demo's own "
                             "entries there are replaced; nothing else is touched)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import replace

    from ..demo import DEFAULT_SETTINGS, QUICK_SETTINGS, DemoError, run_demo

    settings = replace(QUICK_SETTINGS if args.quick else DEFAULT_SETTINGS, train_recording=args.train_recording,
                       scratch=not args.no_scratch, both_directions=args.both_directions)  # fmt: skip
    try:
        run_demo(args.output, quick=args.quick, seed=args.seed, overwrite=args.overwrite, settings=settings)
    except DemoError as err:
        raise UserError(str(err), hint=err.hint) from None
    return 0
