"""`labram convert`: an original LaBraM `.pth` checkpoint -> a Hugging Face model directory."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from . import UserError

KIND_CHOICES = ("auto", "classifier", "pretraining", "tokenizer")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an original LaBraM .pth checkpoint into a Hugging Face model directory",
        description=textwrap.dedent(
            """\
            Convert a checkpoint of the original LaBraM code (github.com/935963004/LaBraM) into a Hugging Face
            model directory: model.safetensors, config.json (with auto_map for trust_remote_code), the modeling
            files, preprocessor_config.json and conversion_info.json (source file name, sha256, kind).

            The file is read with torch.load(weights_only=True): only tensors, plain containers and
            argparse.Namespace are accepted, so a pickle holding arbitrary objects is refused without running it.

            Kinds: classifier (fine-tuned NeuralTransformer -> LaBraMForSequenceClassification), pretraining
            (NeuralTransformerForMEM, e.g. labram-base.pth -> LaBraMForMaskedEEGModeling) and tokenizer (VQ-NSP,
            e.g. vqnsp.pth -> LaBraMTokenizerModel). `auto` detects the kind from the key names."""
        ),
        epilog="example: labram convert --checkpoint labram-base.pth --output labram-base-hf",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, metavar="PATH", help="original .pth file to convert")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="directory to write (new or empty; never the checkpoint's own directory)")  # fmt: skip
    parser.add_argument(
        "--kind", choices=KIND_CHOICES, default="auto", help="checkpoint format (default: auto-detect from the keys)"
    )
    parser.add_argument(
        "--num-heads",
        type=int,
        default=None,
        metavar="N",
        help="attention heads; only needed for models without qk-norm whose width is not a known preset",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty output directory written by an earlier labram command")  # fmt: skip
    parser.set_defaults(func=run)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(args) -> int:
    from ..errors import LaBraMError

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if not checkpoint.exists():
        raise UserError(f"checkpoint not found: {checkpoint}", hint="pass the path of an original LaBraM .pth file")
    if checkpoint.is_dir():
        raise UserError(f"{checkpoint} is a directory, not a checkpoint file", hint="pass the .pth file itself")
    if args.num_heads is not None and args.num_heads <= 0:
        raise UserError(f"--num-heads must be positive, got {args.num_heads}", hint="e.g. --num-heads 10")
    from ..outputs import OutputTarget

    # The output is checked before anything heavy is imported or read (convert_checkpoint checks it again).
    OutputTarget(output, inputs=[checkpoint], overwrite=args.overwrite, kind="dir", what="output directory")

    from ..conversion import convert_checkpoint

    try:
        out = convert_checkpoint(checkpoint, output, kind=args.kind, num_heads=args.num_heads, overwrite=args.overwrite)
    except LaBraMError:
        raise  # printed by the CLI with its own hint
    except FileNotFoundError as err:
        raise UserError(_one_line(err), hint="pass the path of an original LaBraM .pth file") from None
    except ValueError as err:
        message = _one_line(err)
        if "weights-only" in message:
            hint = (
                "only plain state dicts (tensors, dicts, lists, numbers, strings, argparse.Namespace) are read; "
                "re-save with torch.save({'model': model.state_dict()}, path) in a trusted environment"
            )
        elif "num_heads" in message or "--num-heads" in message:
            hint = "pass --num-heads N"
        elif args.kind != "auto":
            hint = "check --kind, or leave it out to detect the format from the key names"
        else:
            hint = (
                "expected an original LaBraM classifier, pre-training (student.*) or VQ-NSP tokenizer checkpoint; "
                "pass --kind to force a format"
            )
        raise UserError(message, hint=hint) from None

    info = json.loads((out / "conversion_info.json").read_text())
    print(
        f"labram convert: wrote {info['model_class']} ({info['kind']}) to {out}\n"
        f"  source {info['source_file']} sha256 {info['source_sha256']}\n"
        f"  load with: import labram_hf; AutoModel.from_pretrained({str(out)!r})"
        f"  (or trust_remote_code=True without labram_hf)"
    )
    return 0
