"""`labram prepare`: turn EEG recordings into a LaBraM window dataset (Arrow, ``datasets.load_from_disk``).

Examples::

    labram prepare recordings/ --output data/windows
    labram prepare "raw/**/*.edf" --output data/abn --labels csv:labels.csv --num-proc 4
    labram prepare night.edf --output data/sleep --labels annotations \\
        --label-map '{"Sleep stage W": "wake", "Sleep stage 2": "sleep"}' --window-seconds 4
    labram prepare headset_128hz.bdf --output data/bci --lowpass 45 --notch 60
    labram prepare eyes.edf --output data/eyes --labels annotations --markers span \\
        --label-map '{"eyes open": "open", "eyes closed": "closed"}' --window-seconds 2
    labram prepare val/ --output data/val --labels csv:val.csv --label-schema data/train
    labram prepare eyes.edf --output data/trials --epochs-from annotations --tmin 0 --tmax 4 \\
        --labels events --label-map '{"eyes open": "open", "eyes closed": "closed"}'
    labram prepare sub01-epo.fif sub02-epo.fif --output data/erp --labels events
    labram prepare psg.edf --annotations hypnogram.edf --output data/sleep --labels annotations \\
        --label-map '{"Sleep stage W": "wake", "Sleep stage 2": "sleep"}' --window-seconds 30 --lowpass 45
    labram prepare biosemi/ --channel-policy nearest --montage biosemi64 --dry-run
    labram prepare biosemi/ --output data/bio --channel-policy nearest --montage biosemi64 --max-tokens 256
    labram prepare "tuh/**/*.edf" --output data/tuh --shard-size 500MB --num-proc 8 --max-tokens 256
    labram prepare "tuh/**/*.edf" --output data/tuh --push-to-hub my-org/tuh-windows --dry-run upload-preview

Channels: --channel-policy strict|lenient|aliases|nearest|interpolate, --montage and --bipolar are those of
`labram channels` (which shows one file's mapping); they are saved in preprocessor_config.json. --dry-run (after the
inputs) prints the mapping table of every distinct channel set and the window length, reading headers only: nothing
is written, not even --output. A real build draws the mapping of each distinct montage into channels.png in the
output (channels-1.png, channels-2.png ... for several; --no-channel-plot skips it).

Token budget: --max-tokens N picks the window length from the number of model channels per window, as the original
pre-training did: floor(N / channels) seconds, at most 16, at least 1 (256: 64 channels -> 4 s, 32 -> 8 s, 19 ->
13 s). A dataset has one window length, so every file must map to the same number of channels: inputs of several
montages are an error; prepare each montage into its own --output and mix them in a pre-training corpus.

Shards: --shard-size SIZE (500MB, 1GiB, ...) writes Parquet shards of at most SIZE under OUTPUT/data (plus
shards.json) instead of an Arrow dataset, for StreamingCorpus and the Hub. Files are processed in groups of about
SIZE of input; a killed, crashed or failed build leaves its finished groups in .OUTPUT.shard-cache beside the
output, and running the same command again reuses those whose files and settings are unchanged (a changed setting
rebuilds everything). --push-to-hub ORG/NAME uploads the shards, shards.json, the contract files, the channel images
and a dataset card to a Hub dataset repository (default shard size 500MB); --dry-run DIR writes that exact folder to
DIR instead of uploading.

Trials: --epochs-from EVENTS (annotations, annotations:DESC1,DESC2, stim or stim:CHANNEL) cuts the trial
[onset + tmin, onset + tmax) at every event, after filtering the whole recording; tmax - tmin must be a whole number
of seconds (or give --window-seconds to cut windows inside each trial). Epoch files (-epo.fif, EEGLAB epoch .set) are
read as trials directly, each filtered on its own (mirror-periodic padding; a warning says when trials are shorter
than the filters need). Trial rows carry event and onset columns; --labels events labels each trial by its event
name (through --label-map when given; unmapped events are dropped).

Labels: class ids follow --class-names (or --label-schema, the schema of another dataset or a model directory);
without them class names are sorted. Integer labels (1, 1.0, "1") make an integer label column.
The dataset directory also holds preprocessor_config.json (LaBraMFeatureExtractor.from_pretrained(DIR) reproduces
the preprocessing and windows), label_schema.json and build_report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from ..constants import DEFAULT_WINDOW_SECONDS, SAMPLING_RATE
from ..errors import LaBraMError
from . import UserError, check_repo_id, parse_channels, parse_notch
from .channels import add_channel_arguments, channel_kwargs


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="preprocess EEG recordings into a windowed dataset (Arrow, loads with datasets.load_from_disk)",
        description=(
            "Read EEG files (EDF, BDF, GDF, FIF, BrainVision, EEGLAB, eeghdf, ...), apply LaBraM's preprocessing "
            "(EEG channels of the LaBraM vocabulary, 0.1-75 Hz band-pass, mains notch, 200 Hz, microvolts/100) "
            "and save fixed-length windows as a Hugging Face dataset."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1],
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="EEG files, directories (searched recursively) or globs")
    parser.add_argument("--output", "-o", default=None, metavar="DIR",
                        help="directory to write the dataset to (required, except for a --dry-run preview)")  # fmt: skip
    parser.add_argument("--window-seconds", type=float, default=None,
                        help="window length in whole seconds (default 10; for trials: the trial length)")  # fmt: skip
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="instead of --window-seconds: the original's window rule, floor(N / channels) seconds "
                             "(at most 16, at least 1; 256 tokens: 64 channels -> 4 s, 19 -> 13 s); all files must "
                             "map to the same channel count")  # fmt: skip
    parser.add_argument("--stride-seconds", type=float, default=None,
                        help="hop between windows (default: the window length, no overlap)")  # fmt: skip
    parser.add_argument("--labels", default="none", metavar="none|annotations|events|csv:PATH",
                        help="no labels (default), labels from the files' annotations (needs --label-map), trials "
                             "labelled by their event names (events), or one label per file from a CSV with columns "
                             "path,label")  # fmt: skip
    parser.add_argument("--epochs-from", default=None, metavar="EVENTS",
                        help="cut event-locked trials from continuous recordings at these events: annotations, "
                             "annotations:DESC1,DESC2, stim or stim:CHANNEL (needs --tmin and --tmax)")  # fmt: skip
    parser.add_argument("--tmin", type=float, default=None, metavar="S",
                        help="trial start in seconds relative to its event (e.g. -0.5)")  # fmt: skip
    parser.add_argument("--tmax", type=float, default=None, metavar="S",
                        help="trial end in seconds relative to its event (exclusive; tmax - tmin: whole "
                             "seconds)")  # fmt: skip
    parser.add_argument("--annotations", default=None, metavar="FILE|csv:PATH",
                        help="annotations stored in a separate file (e.g. an EDF+ hypnogram), attached before "
                             "labelling; for several recordings a CSV with columns path,annotations")  # fmt: skip
    parser.add_argument("--label-map", default=None, metavar="JSON|PATH",
                        help="annotation description (or, with --labels events, event name) -> class, as a JSON "
                             "object or a JSON file")  # fmt: skip
    parser.add_argument("--class-names", default=None, metavar="A,B,...",
                        help="class order (class i = the i-th name); default: sorted class names")  # fmt: skip
    parser.add_argument("--label-schema", default=None, metavar="DIR|JSON",
                        help="reuse the label schema of another dataset, a model directory or a label_schema.json "
                             "(classes it does not know are an error)")  # fmt: skip
    parser.add_argument("--straddle", choices=["majority", "drop", "any"], default="majority",
                        help="label of windows that straddle annotations (default: majority)")  # fmt: skip
    parser.add_argument("--markers", choices=["point", "span"], default="point",
                        help="annotations of duration 0: point events (default), or 'span': each mapped marker "
                             "labels the time until the next mapped annotation (the last one: to the end)")  # fmt: skip
    parser.add_argument("--background", default=None, metavar="CLASS",
                        help="class of windows touching no mapped annotation (default: drop them)")  # fmt: skip
    parser.add_argument("--notch", default="50", metavar="50|60|off", help="mains notch filter (default 50 Hz)")
    parser.add_argument("--lowpass", type=float, default=75.0, metavar="HZ",
                        help="low-pass edge (default 75 Hz; needs a sampling rate above twice this)")  # fmt: skip
    parser.add_argument("--highpass", type=float, default=0.1, metavar="HZ", help="high-pass edge (default 0.1 Hz)")
    parser.add_argument("--channels", default=None, metavar="LIST|tuh",
                        help="fixed channel selection in this order, comma-separated (or 'tuh' for the 23 TUAB/TUEV "
                             "channels); every file must have them all")  # fmt: skip
    parser.add_argument("--num-proc", type=int, default=1, metavar="N", help="worker processes (default 1)")
    parser.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                        help="stop at the first bad file (default) or skip it and list it in skipped_files.csv")  # fmt: skip
    add_channel_arguments(_ChoicesCheckedLater(parser))  # --channel-policy, --montage, --bipolar
    parser.add_argument("--lenient-channels", action="store_true", help="same as --channel-policy lenient")
    parser.add_argument("--dry-run", nargs="?", const=True, default=None, metavar="DIR",
                        help="put it after the inputs. Alone: print every file's channel mapping and the window "
                             "length, write nothing. With --push-to-hub: build, then write the upload folder to DIR "
                             "instead of uploading")  # fmt: skip
    parser.add_argument("--shard-size", default=None, metavar="SIZE",
                        help="write Parquet shards of at most SIZE (500MB, 1GiB, ...) for streaming and the Hub; "
                             "a killed build resumes from its finished file groups")  # fmt: skip
    parser.add_argument("--push-to-hub", default=None, metavar="ORG/NAME",
                        help="upload the shards and contract files to this Hub dataset repository (shards of "
                             "500MB unless --shard-size; needs a Hub token)")  # fmt: skip
    parser.add_argument("--private", action="store_true", help="create the --push-to-hub repository as private")
    parser.add_argument("--no-channel-plot", action="store_true",
                        help="do not draw the channel mapping into channels.png")  # fmt: skip
    parser.add_argument("--allow-truncated", action="store_true",
                        help="accept files shorter than their header declares (with a warning) instead of "
                             "failing")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an output directory made by an earlier labram prepare")  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


class _ChoicesCheckedLater:
    """Adds the channel options shared with ``labram channels`` while leaving their choices to :func:`run`, so a
    wrong value is a one-line error with a hint (like every other prepare mistake), not an argparse usage dump."""

    def __init__(self, parser: argparse.ArgumentParser):
        self._parser = parser

    def add_argument(self, *flags, choices=None, **kwargs):
        if choices is not None:
            kwargs.setdefault("metavar", "|".join(choices))
        return self._parser.add_argument(*flags, **kwargs)


def _labels(args):
    spec = args.labels.strip()
    if spec.lower() == "none":
        if args.label_map:
            raise UserError("--label-map needs --labels annotations or --labels events")
        if args.class_names or args.label_schema:
            raise UserError("--class-names / --label-schema need --labels annotations, events or csv:PATH")
        return None, None
    if spec.lower() == "events":
        if not args.label_map:
            return "events", None
        from ..data.labels import parse_label_map

        try:
            return "events", parse_label_map(args.label_map)
        except LaBraMError as err:
            raise UserError(str(err), "pass a JSON object or the path of a JSON file") from None
    if spec.lower() == "annotations":
        if not args.label_map:
            raise UserError(
                "--labels annotations needs --label-map",
                'e.g. --label-map \'{"asleep": "sleep", "awake": "wake"}\' (annotation description -> class)',
            )
        from ..data.labels import parse_label_map

        try:
            return "annotations", parse_label_map(args.label_map)
        except LaBraMError as err:
            raise UserError(str(err), "pass a JSON object or the path of a JSON file") from None
    if spec.lower().startswith("csv:"):
        path = Path(spec[4:]).expanduser()
        if not path.is_file():
            raise UserError(f"label CSV {path} not found", "--labels csv:PATH with columns path,label")
        return path, None
    raise UserError(f"--labels must be none, annotations, events or csv:PATH, got {spec!r}")


def _channel_policy(args) -> str:
    from ..feature_extraction_labram import CHANNEL_POLICIES

    policy = args.channel_policy
    if policy is not None and policy not in CHANNEL_POLICIES:
        raise UserError(f"--channel-policy must be one of {', '.join(CHANNEL_POLICIES)}, got {policy!r}")
    if args.lenient_channels:
        if policy not in (None, "lenient"):
            raise UserError(f"--lenient-channels contradicts --channel-policy {policy}")
        policy = "lenient"
    policy = policy or "strict"
    if args.bipolar not in (None, "anode", "drop"):
        raise UserError(f"--bipolar must be anode or drop, got {args.bipolar!r}",
                        hint="--bipolar anode feeds Fpz-Cz to the Fpz row; --bipolar drop leaves it out")  # fmt: skip
    if args.montage and policy not in ("nearest", "interpolate"):
        raise UserError("--montage is only used with --channel-policy nearest or interpolate",
                        hint="add --channel-policy nearest (or interpolate)")  # fmt: skip
    return policy


def _hint(message: str) -> str | None:
    low = message.lower()
    if "too low for a" in low and "low-pass" in low:
        return "lower the low-pass below half the sampling rate, e.g. --lowpass 45 for 128 Hz recordings"
    if "unknown eeg channel" in low:
        return ("pass --channel-policy lenient to drop unknown channels (aliases: also synonyms; nearest --montage "
                "NAME: by electrode position); `labram channels FILE` shows the mapping")  # fmt: skip
    if "no eeg channel recognised" in low:
        return "LaBraM needs 10-20/10-10 electrode names (Fp1, C3, 'EEG CZ-REF', ...)"
    if "too short" in low or "shorter than one" in low:
        return "use a shorter --window-seconds, or --on-error skip to leave such files out"
    if "not empty" in low:
        return "choose a new --output directory or pass --overwrite"
    if "no eeg files found" in low or "no such file" in low or "matches no file" in low:
        return "give EEG files, directories containing them, or a quoted glob such as 'data/**/*.edf'"
    if "no annotation matched" in low:
        return "make --label-map's keys the annotation descriptions listed above"
    if "not finite" in low or "nan" in low or "flat channel" in low or "cannot read" in low or "duplicate" in low:
        return "fix or remove the file, or pass --on-error skip to leave bad files out"
    return None


def _sharding(args) -> tuple[str | None, str | None, str | None]:
    """``(shard size, push repo, upload-folder DIR)`` from --shard-size, --push-to-hub and --dry-run DIR."""
    upload_dir = args.dry_run if isinstance(args.dry_run, str) else None
    if upload_dir is not None and not args.push_to_hub:
        raise UserError(f"--dry-run {upload_dir}: a directory after --dry-run is the upload folder of --push-to-hub",
                        hint="for a preview of the channel mapping put --dry-run after the inputs, without a "
                             "value; or add --push-to-hub ORG/NAME")  # fmt: skip
    repo = args.push_to_hub
    if repo is None:
        return args.shard_size, None, None
    check_repo_id(repo, "--push-to-hub", "my-org/eeg-windows")
    if upload_dir is None and os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise UserError("cannot upload: HF_HUB_OFFLINE is set",
                        hint="unset HF_HUB_OFFLINE, or write the upload folder with --dry-run DIR")  # fmt: skip
    from ..data.shards import DEFAULT_SHARD_SIZE

    return args.shard_size or DEFAULT_SHARD_SIZE, repo, upload_dir


def run(args) -> int:
    labels, label_map = _labels(args)
    notch = parse_notch(args.notch)
    channels = parse_channels(args.channels)
    policy = _channel_policy(args)
    if args.num_proc < 1:
        raise UserError(f"--num-proc must be at least 1, got {args.num_proc}")
    if args.max_tokens is not None and args.window_seconds is not None:
        raise UserError("--max-tokens and --window-seconds exclude each other",
                        hint="--max-tokens N picks the window from the channel count; --window-seconds sets it")  # fmt: skip
    if args.max_tokens is not None and args.max_tokens < 1:
        raise UserError(f"--max-tokens must be a positive number of tokens, got {args.max_tokens}",
                        hint="e.g. --max-tokens 256, the original pre-training budget")  # fmt: skip
    channel_options = {**channel_kwargs(args), "channel_policy": policy, "channels": channels}
    if args.dry_run is True:
        return _preview(args, channel_options)
    shard_size, repo, upload_dir = _sharding(args)
    if not args.output:
        raise UserError("--output DIR is required", hint="pass --output DIR (or --dry-run to only preview)")
    if upload_dir is not None:  # checked (not written) before the build, so that a long build cannot end in this
        from ..outputs import OutputTarget

        OutputTarget(upload_dir, inputs=[args.output, *args.inputs], overwrite=args.overwrite, kind="dir",
                     what="upload folder", command="prepare")  # fmt: skip
    from ..data.builder import build_dataset

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            ds = build_dataset(
                args.inputs,
                args.output,
                window_seconds=args.window_seconds,
                stride_seconds=args.stride_seconds,
                labels=labels,
                label_map=label_map,
                class_names=args.class_names,
                label_schema=args.label_schema,
                straddle=args.straddle,
                markers=args.markers,
                background=args.background,
                l_freq=args.highpass,
                h_freq=args.lowpass,
                notch=notch,
                allow_truncated=args.allow_truncated,
                epochs_from=args.epochs_from,
                tmin=args.tmin,
                tmax=args.tmax,
                annotations=args.annotations,
                max_tokens=args.max_tokens,
                shard_size=shard_size,
                plot_channels=not args.no_channel_plot,
                num_proc=args.num_proc,
                on_error=args.on_error,
                overwrite=args.overwrite,
                progress=not args.quiet,
                **channel_options,
            )
        except ValueError as err:  # LaBraMError (DatasetBuildError, OutputError, EEGReadError ...) and ValueError
            _print_warnings(caught)
            msg = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise UserError(msg, getattr(err, "hint", None) or _hint(msg)) from None
    _print_warnings(caught)
    out = Path(args.output)
    _summary(ds, out, time.perf_counter() - t0)
    if repo is not None:
        _publish(out, repo, upload_dir, args)
    return 0


def _summary(ds, out: Path, seconds: float) -> None:
    """What was written: rows, window, files, skipped files, the window rule, shards, images and labels."""
    report: dict = {}
    try:
        report = json.loads((out / "build_report.json").read_text())
    except (OSError, ValueError):
        pass
    settings = report.get("settings", {})
    skipped = report.get("files_skipped", 0)
    n_files = report.get("files_ok", "?")
    rows = sum(report.get("rows", {}).values()) if report.get("rows") else len(ds)
    window = ds.features["input_values"].shape[-1] / SAMPLING_RATE
    kind = "trial rows" if "event" in ds.features else "windows"
    print(f"labram prepare: wrote {rows} {kind} of {window:g} s from {n_files} file(s) to {out} in {seconds:.1f} s"
          + (f"; {skipped} file(s) skipped, see {out / 'skipped_files.csv'}" if skipped else ""))  # fmt: skip
    if settings.get("max_tokens") is not None:
        n = settings.get("channels_per_window")
        print(f"labram prepare: --max-tokens {settings['max_tokens']}: {n} channels per window -> {window:g}-s "
              f"windows ({int(n * window)} tokens; {settings.get('window_rule')})")  # fmt: skip
    shards = report.get("shards")
    if shards:
        reused = shards.get("file_groups_reused", 0)
        print(f"labram prepare: {shards['num_shards']} Parquet shard(s) of at most {shards['max_shard_bytes']} bytes "
              f"in {out / 'data'} from {shards['file_groups']} file group(s)"
              + (f"; reused {reused} finished group(s) of an earlier, interrupted build" if reused else ""))  # fmt: skip
    plots = [p["image"] for p in report.get("channel_plots", []) if p.get("image")]
    if plots:
        print(f"labram prepare: channel mapping drawn in {', '.join(str(out / p) for p in plots)}")
    if "label" in ds.features:
        feat = ds.features["label"]
        names = getattr(feat, "names", None)
        counts: dict = {}
        for v in _labels_of(ds, out, bool(shards)):
            counts[v] = counts.get(v, 0) + 1
        shown = ", ".join(f"{names[k] if names else k}: {c}" for k, c in sorted(counts.items()))
        print(f"labram prepare: labels {shown}")
    if shards:
        print(f"labram prepare: stream it with datasets.load_dataset({str(out)!r}, split='train', streaming=True) "
              f"or StreamingCorpus({str(out)!r}, global_batch_size=...); its preprocessing with "
              f"LaBraMFeatureExtractor.from_pretrained({str(out)!r})")  # fmt: skip
    else:
        print(f"labram prepare: load it with datasets.load_from_disk({str(out)!r}); its preprocessing with "
              f"LaBraMFeatureExtractor.from_pretrained({str(out)!r})")  # fmt: skip


def _labels_of(ds, out: Path, sharded: bool) -> list:
    if not sharded:
        return list(ds["label"])
    import pyarrow.parquet as pq

    from ..data.shards import shard_files

    return [v for f in shard_files(out) for v in pq.read_table(f, columns=["label"]).column("label").to_pylist()]


def _publish(out: Path, repo: str, upload_dir: str | None, args) -> None:
    """Write the upload folder (``--dry-run DIR``) or upload it to the dataset repository ``repo``."""
    import tempfile

    from ..data.shards import assemble_dataset_upload_folder, push_dataset_folder, write_dataset_upload_folder
    from ..outputs import MARKER_FILE

    try:
        if upload_dir is not None:
            folder = assemble_dataset_upload_folder(out, upload_dir, repo_id=repo, overwrite=args.overwrite,
                                                    inputs=args.inputs)  # fmt: skip
            names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                           if p.is_file() and p.name != MARKER_FILE)  # fmt: skip
            print(f"labram prepare: dry run, nothing uploaded; upload folder for {repo} written to {folder}:")
            for name in names:
                print(f"  {name}")
            return
        # beside the output, so that the shards are hard links rather than copies
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.upload-", dir=out.parent) as tmp:
            folder = write_dataset_upload_folder(out, tmp, repo_id=repo)
            try:
                url = push_dataset_folder(folder, repo, private=args.private)
            except Exception as err:  # noqa: BLE001 - network/auth errors become one line
                name, text = type(err).__name__, " ".join(str(err).split())[:300]
                hint = ("log in with `hf auth login` or set HF_TOKEN (with write access to the namespace)"
                        if "Token" in name or "401" in text or "token" in text.lower()
                        else "check the network, the repository id and your rights on its namespace")  # fmt: skip
                raise UserError(f"upload to {repo} failed ({name}: {text}); the dataset is kept in {out}",
                                hint=hint) from None  # fmt: skip
    except LaBraMError as err:
        if isinstance(err, UserError):
            raise
        raise UserError(str(err), hint=err.hint) from None
    print(f"labram prepare: uploaded {repo}: {url}")


def _preview(args, channel_options: dict) -> int:
    """``--dry-run``: every distinct channel mapping of the inputs and the window length; nothing is written."""
    from ..data.build import preview_channels, window_for_max_tokens
    from ..data.sources import input_roots, resolve_inputs
    from ..montage import format_mapping
    from ..outputs import OutputTarget

    try:
        if args.output:  # only checked (OutputTarget writes nothing before `with`)
            files = resolve_inputs(args.inputs)
            OutputTarget(args.output, inputs=[*input_roots(args.inputs), *files], overwrite=args.overwrite,
                         kind="dir", command="prepare")  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            groups = preview_channels(args.inputs, allow_truncated=args.allow_truncated, **channel_options)
    except LaBraMError as err:
        raise UserError(str(err).splitlines()[0], err.hint or _hint(str(err))) from None
    n_files = sum(len(g.files) for g in groups)
    montage = f", montage {args.montage}" if args.montage else ""
    print(f"labram prepare: dry run, nothing is written; channel mapping of {n_files} file(s) in {len(groups)} "
          f"distinct channel set(s) under channel_policy={channel_options['channel_policy']!r}{montage}")  # fmt: skip
    problems = []
    for k, group in enumerate(groups, start=1):
        shown = ", ".join(Path(f).name for f in group.files[:5])
        more = f" and {len(group.files) - 5} more" if len(group.files) > 5 else ""
        print(f"\n[{k}] {len(group.files)} file(s): {shown}{more}")
        if group.mapping is not None:
            print(format_mapping(group.mapping))
            kinds: dict[str, int] = {}
            for row in group.mapping.rows:
                kinds[row.how] = kinds.get(row.how, 0) + 1
            counts = ", ".join(f"{v} {h}" for h, v in kinds.items())
            tmpl = f"; positions compared with the {group.mapping.template} template" if group.mapping.template else ""
            print(f"{len(group.mapping.ids)} model channel(s) ({counts}){tmpl}")
        if group.problem is not None:
            problems.append(group)
            print(f"would fail: {group.problem}")
            if getattr(group.problem, "hint", None):
                print(f"hint: {group.problem.hint}")
    print()
    if args.max_tokens is not None:
        try:
            seconds, n = window_for_max_tokens(groups, args.max_tokens)
        except LaBraMError as err:
            raise UserError(str(err), err.hint) from None
        print(f"labram prepare: --max-tokens {args.max_tokens}: {n} channels per window -> {seconds}-s windows "
              f"({n * seconds} tokens)")  # fmt: skip
    else:
        window = args.window_seconds if args.window_seconds is not None else DEFAULT_WINDOW_SECONDS
        print(f"labram prepare: windows of {window:g} s" + ("" if args.window_seconds is not None else " (default)"))
    if problems:
        bad = sum(len(g.files) for g in problems)
        if args.on_error == "skip":
            print(f"labram prepare: {bad} file(s) would be skipped (--on-error skip)")
        else:
            first = problems[0]
            raise UserError(f"{bad} of {n_files} file(s) cannot be mapped, e.g. {first.problem}",
                            getattr(first.problem, "hint", None) or "pass --on-error skip to leave them out")  # fmt: skip
    return 0


def _print_warnings(caught, limit: int = 20) -> None:
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    for msg in messages[:limit]:
        print(f"labram prepare: warning: {msg}", file=sys.stderr)
    if len(messages) > limit:
        print(f"labram prepare: warning: ... and {len(messages) - limit} more (every file's warnings are listed in "
              "build_report.json)", file=sys.stderr)  # fmt: skip
