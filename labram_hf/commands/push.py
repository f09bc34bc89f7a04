"""`labram push`: publish a LaBraM model directory on the Hugging Face Hub (or write the upload folder locally)."""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

from . import UserError, check_repo_id


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="publish a model directory on the Hugging Face Hub (with --dry-run: write the upload folder)",
        description=textwrap.dedent(
            """\
            Assemble the exact upload folder of a LaBraM model directory and upload it to the Hugging Face Hub:
            model.safetensors, config.json (with auto_map for trust_remote_code), the remote code
            (configuration_labram.py, modeling_labram.py), preprocessor_config.json and a generated README.md
            model card (from conversion_info.json / training_metadata.json in DIR and --metadata). The weights
            are loaded once to check that they match the model class.

            Uploading needs a Hub token (`hf auth login` or HF_TOKEN). With --dry-run OUTDIR nothing is
            uploaded: the folder is written to OUTDIR for inspection (never over DIR or a directory holding it;
            an existing OUTDIR is only replaced with --overwrite and only if labram wrote it)."""
        ),
        epilog="example: labram push labram-base-hf --repo-id my-org/labram-base --dry-run upload-preview",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_dir", metavar="DIR", help="model directory (from labram convert or save_pretrained)")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="Hub repository id")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--dry-run", metavar="OUTDIR", default=None, help="write the upload folder here; no upload")
    parser.add_argument("--commit-message", default=None, metavar="TEXT", help="commit message of the upload")
    parser.add_argument(
        "--metadata", default=None, metavar="JSON",
        help="model-card metadata: a JSON file (dataset, metrics, base_model, training, license, tags, ...)",
    )  # fmt: skip
    parser.add_argument("--base-model", default=None, metavar="ID", help="Hub id this model was fine-tuned from")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --dry-run OUTDIR")
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..hub import HubError, assemble_upload_folder, push_folder, write_upload_folder
    from ..model_card import load_metadata

    check_repo_id(args.repo_id, "--repo-id", "my-org/labram-base")
    metadata = {}
    if args.metadata:
        try:
            metadata = load_metadata(args.metadata)
        except (OSError, ValueError) as err:
            raise UserError(f"cannot read --metadata {args.metadata}: {' '.join(str(err).split())}",
                            hint="pass a JSON file holding an object") from None  # fmt: skip
    if args.base_model:
        metadata["base_model"] = args.base_model

    if args.dry_run:
        from ..outputs import MARKER_FILE

        try:
            folder = assemble_upload_folder(args.model_dir, args.dry_run, repo_id=args.repo_id, metadata=metadata,
                                            overwrite=args.overwrite)  # fmt: skip
        except HubError as err:
            raise UserError(str(err), hint=err.hint) from None
        files = sorted(p.name for p in folder.iterdir() if p.name != MARKER_FILE)
        print(f"labram push: dry run, nothing uploaded; upload folder for {args.repo_id} written to {folder}:")
        for name in files:
            print(f"  {name}")
        return 0

    import os

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise UserError("cannot upload: HF_HUB_OFFLINE is set", hint="unset HF_HUB_OFFLINE, or use --dry-run OUTDIR")
    with tempfile.TemporaryDirectory(prefix="labram-push-") as tmp:
        folder = Path(tmp) / "upload"
        folder.mkdir()
        try:
            write_upload_folder(args.model_dir, folder, repo_id=args.repo_id, metadata=metadata)
        except HubError as err:
            raise UserError(str(err), hint=err.hint) from None
        try:
            url = push_folder(folder, args.repo_id, private=args.private, commit_message=args.commit_message)
        except Exception as err:  # noqa: BLE001 - network/auth errors become one line
            name = type(err).__name__
            text = " ".join(str(err).split())[:300]
            if "Token" in name or "401" in text or "token" in text.lower():
                hint = "log in with `hf auth login` or set HF_TOKEN (with write access to the namespace)"
            else:
                hint = "check the network, the repository id and your rights on its namespace"
            raise UserError(f"upload to {args.repo_id} failed ({name}: {text})", hint=hint) from None
    print(f"labram push: uploaded {args.repo_id}: {url}")
    return 0
