"""Trials (epoched EEG) everywhere (issue 10 §1): reading epoch files, `labram prepare --epochs-from`, epoch files as
datasets, `--labels events`, `--annotations FILE`, and the feature extractor on mne.Epochs.

Every recording is a crop of the REAL sample recordings; epoch files are cut from them with mne (FIF) and written with
eeglabio (EEGLAB); the hypnogram is an EDF+ annotation file written with edfio.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings

import mne
import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

import labram_hf.cli as cli  # noqa: E402
from labram_hf.data import DatasetBuildError, build_dataset, iter_dataset, load_dataset_contract  # noqa: E402
from labram_hf.data._testing import EEGHDF_KNOWN, export_crop, sample_raw  # noqa: E402
from labram_hf.data.trials import epoch_event_names  # noqa: E402
from labram_hf.errors import LaBraMError  # noqa: E402
from labram_hf.feature_extraction_labram import LaBraMFeatureExtractor  # noqa: E402
from labram_hf.io import EEGReadError, is_epochs_file, read_eeg, read_epochs, read_raw  # noqa: E402
from labram_hf.preprocessing import preprocess, preprocess_epochs, preprocess_raw  # noqa: E402

EYES = {"eyes open": "open", "eyes closed": "closed"}
CROP = (895.0, 965.0)  # 70 s of the absence recording with 7 real "eyes open"/"eyes closed" annotations


def build(inputs, output=None, **kw):
    kw.setdefault("progress", False)
    return build_dataset(inputs, output, **kw)


@pytest.fixture(scope="module")
def eyes(tmp_path_factory):
    """The 70-s EDF crop with its real annotations, and epoch files cut from it with mne: 4-s trials from each
    "eyes open"/"eyes closed" onset as -epo.fif, as an EEGLAB .set (eeglabio), as an epochs FIF without the -epo
    suffix, and resampled to 50 Hz."""
    root = tmp_path_factory.mktemp("trials")
    ann = sample_raw("absence").annotations
    keep = [(float(o) - CROP[0], 0.0, str(d)) for o, d in zip(ann.onset, ann.description)
            if CROP[0] <= o < CROP[1] and str(d) in EYES]  # fmt: skip
    assert len(keep) == 7
    edf = export_crop("absence", root / "eyes.edf", *CROP, annotations=keep)
    raw = read_raw(edf)
    events, event_id = mne.events_from_annotations(raw, event_id={"eyes open": 1, "eyes closed": 2}, verbose="error")
    epochs = mne.Epochs(raw, events, event_id, tmin=0.0, tmax=4.0 - 1 / 200, baseline=None, preload=True,
                        verbose="error")  # fmt: skip
    assert len(epochs) == 7
    fif = root / "eyes-epo.fif"
    epochs.save(fif, verbose="error")
    plain = root / "trials.fif"  # holds epochs, but not named like an epoch file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mne's note on the file name
        epochs.save(plain, verbose="error")
    eeglab = root / "eyes_epochs.set"
    mne.export.export_epochs(eeglab, epochs, fmt="eeglab", overwrite=True, verbose="error")
    low = root / "low-epo.fif"
    epochs.copy().resample(50.0, verbose="error").save(low, verbose="error")
    onsets = [o for o, _, _ in keep]
    names = [d for _, _, d in keep]
    return {"root": root, "edf": edf, "fif": fif, "plain": plain, "set": eeglab, "low": low, "epochs": epochs,
            "onsets": onsets, "names": names}  # fmt: skip


# --------------------------------------------------------------------------------------------------------------------
# read
# --------------------------------------------------------------------------------------------------------------------


def test_read_epoch_files(eyes):
    assert is_epochs_file(eyes["fif"]) and is_epochs_file(eyes["set"]) and is_epochs_file(eyes["plain"])
    assert not is_epochs_file(eyes["edf"])
    ref = eyes["epochs"].get_data()
    for path in (eyes["fif"], eyes["set"], eyes["plain"]):
        epochs = read_epochs(path)
        assert len(epochs) == 7 and epochs.info["sfreq"] == 200.0
        np.testing.assert_allclose(epochs.get_data(), ref, rtol=1e-7, atol=0)  # EEGLAB stores float32
        assert type(read_eeg(path)) is type(epochs)
    # every trial is named by the event it is locked to (mne alone names an EEGLAB trial holding two events
    # "eyes closed/eyes open")
    for path in (eyes["fif"], eyes["set"]):
        assert epoch_event_names(read_epochs(path)) == eyes["names"]
    assert isinstance(read_eeg(eyes["edf"]), mne.io.BaseRaw)
    # the raw reader names the problem instead of mne's "No raw data" / "number of trials is 7"
    for path in (eyes["fif"], eyes["set"]):
        with pytest.raises(EEGReadError, match="holds epochs") as info:
            read_raw(path)
        assert str(path) in str(info.value) and "read_epochs" in info.value.hint
    with pytest.raises(EEGReadError, match="continuous recording"):
        read_epochs(eyes["edf"])


# --------------------------------------------------------------------------------------------------------------------
# the epoch-only path against "filter the continuous recording, then cut"
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, start", [("absence", 880.0), ("spasms", 100.0)])
def test_epoch_only_filtering_error_vs_continuous(name, start):
    """7 minutes of a real recording; 4-s trials every 7 s cut with mne. Reference: the continuous recording
    preprocessed, then cut. Epoch-only path (preprocess_epochs) vs naive per-trial preprocessing (what
    `fe(epochs.get_data())` did): median |error| / median |signal|, in total and without each trial's mean."""
    raw = sample_raw(name).copy().pick(EEGHDF_KNOWN).crop(start, start + 420.0, include_tmax=False).load_data()
    truth_all = preprocess_raw(raw).values  # [C, T] at 200 Hz
    events = mne.make_fixed_length_events(raw, duration=7.0)[1:-1]
    epochs = mne.Epochs(raw, events, tmin=0.0, tmax=4.0 - 1 / 200, baseline=None, preload=True, verbose="error")
    first = events[:, 0] - raw.first_samp
    truth = np.stack([truth_all[:, s : s + 800] for s in first])  # [E, C, 800]

    with pytest.warns(UserWarning, match=r"trial\(s\) of 4 s are shorter than the 39\.6 s the filters"):
        ours = preprocess_epochs(epochs).values
    naive = np.stack([preprocess(t, 200.0, raw.ch_names).values for t in epochs.get_data()])
    assert ours.shape == naive.shape == truth.shape

    signal = np.median(np.abs(truth))

    def rel(x):
        return float(np.median(np.abs(x - truth)) / signal)

    def rel_shape(x):  # the error once every trial's own mean is removed from both sides
        centred = x - x.mean(-1, keepdims=True)
        return float(np.median(np.abs(centred - (truth - truth.mean(-1, keepdims=True)))) / signal)

    floor = rel(truth - truth.mean(-1, keepdims=True))  # what no per-trial method can know: the trials' own means
    print(f"\n{name}: median |signal| {signal:.3f} model units; relative error epoch-only {rel(ours):.3f} "
          f"(shape {rel_shape(ours):.3f}), naive per-trial {rel(naive):.3f} (shape {rel_shape(naive):.3f}), "
          f"per-trial floor {floor:.3f}")  # fmt: skip
    # the epoch-only path is as good as a per-trial method can be: only the trials' means are missing ...
    assert rel(ours) <= 1.1 * floor + 0.01
    assert rel_shape(ours) < 0.1
    # ... while the naive path is far worse in total and in shape (so this test fails on the old behaviour)
    assert rel(naive) > 1.5 * rel(ours)
    assert rel_shape(naive) > 2.0 * rel_shape(ours)
    # baseline-corrected epochs (mne's default) give the same trials: the per-trial offset is removed anyway
    based = mne.Epochs(raw, events[:5], tmin=0.0, tmax=4.0 - 1 / 200, baseline=(0.0, 0.5), preload=True,
                       verbose="error")  # fmt: skip
    with pytest.warns(UserWarning, match="shorter than"):
        np.testing.assert_allclose(preprocess_epochs(based).values, ours[:5], rtol=0, atol=2e-4)


def test_epoch_only_resampling_keeps_trial_positions(tuh_trials):
    """256 Hz trials: resampled to 200 Hz without shifting them (compared with the continuous reference)."""
    raw, epochs, truth = tuh_trials
    with pytest.warns(UserWarning, match="shorter than"):
        ours = preprocess_epochs(epochs).values
    assert ours.shape == truth.shape
    centred = ours - ours.mean(-1, keepdims=True)
    ref = truth - truth.mean(-1, keepdims=True)
    err = float(np.median(np.abs(centred - ref)) / np.median(np.abs(truth)))
    shifted = float(np.median(np.abs(np.roll(centred, 1, axis=-1) - ref)) / np.median(np.abs(truth)))
    assert err < 0.1 and shifted > 1.5 * err  # one sample off would be clearly worse


@pytest.fixture(scope="module")
def tuh_trials():
    from labram_hf.channels import TUH_CHANNELS

    raw = sample_raw("tuh").copy().pick([f"EEG {c}-REF" for c in TUH_CHANNELS]).crop(20.0, 140.0,
                                                                                     include_tmax=False)
    raw.load_data(verbose="error")
    truth_all = preprocess_raw(raw).values
    # events on the 200-Hz grid: every 7 s (1792 samples at 256 Hz = 1400 at 200 Hz)
    events = np.array([[raw.first_samp + 1792 * k, 0, 1] for k in range(2, 15)])
    epochs = mne.Epochs(raw, events, tmin=0.0, tmax=4.0 - 1 / 256, baseline=None, preload=True, verbose="error")
    truth = np.stack([truth_all[:, 1400 * k : 1400 * k + 800] for k in range(2, 15)])
    return raw, epochs, truth


# --------------------------------------------------------------------------------------------------------------------
# prepare: trials cut from continuous recordings
# --------------------------------------------------------------------------------------------------------------------


def test_epochs_from_annotations_cut_after_filtering(eyes):
    """Trials [onset - 1, onset + 9) s: the continuous recording is preprocessed once and cut at 200-Hz positions;
    the last trial runs past the end and is dropped with a warning that counts it."""
    with pytest.warns(UserWarning, match=r"1 of 7 trial\(s\) do not fit inside the recording"):
        ds = build(eyes["edf"], epochs_from="annotations", tmin=-1.0, tmax=9.0, labels="events", label_map=EYES)
    ds = ds.with_format("numpy")
    assert len(ds) == 6 and ds.features["input_values"].shape == (None, 2000)
    assert ds.features["label"].names == ["closed", "open"]
    assert list(ds["event"]) == eyes["names"][:6]
    np.testing.assert_allclose(ds["onset"], eyes["onsets"][:6], atol=1e-6)
    assert list(ds["label"]) == [1 if n == "eyes open" else 0 for n in eyes["names"][:6]]
    cont = preprocess_raw(read_raw(eyes["edf"])).values
    for row, onset in zip(ds, eyes["onsets"][:6]):
        first = round(onset * 200) - 200
        assert row["start"] == pytest.approx(first / 200, abs=1e-4)
        np.testing.assert_array_equal(row["input_values"], cont[:, first : first + 2000])


def test_prepare_cli_epochs_from_with_windows_inside_trials(eyes, tmp_path, capsys):
    out = tmp_path / "ds"
    code = cli.main(["prepare", str(eyes["edf"]), "-o", str(out), "--epochs-from", "annotations:eyes closed",
                     "--tmin", "0", "--tmax", "4", "--window-seconds", "2", "--labels", "events", "-q"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "wrote 6 trial rows of 2 s" in text
    ds = datasets.load_from_disk(str(out))
    closed = [o for o, n in zip(eyes["onsets"], eyes["names"]) if n == "eyes closed"]
    assert set(ds["event"]) == {"eyes closed"} and ds.features["label"].names == ["eyes closed"]
    np.testing.assert_allclose(ds["onset"], np.repeat(closed, 2), atol=1e-6)
    np.testing.assert_allclose(ds["start"], np.ravel([[round(o * 200) / 200, round(o * 200) / 200 + 2]
                                                      for o in closed]), atol=1e-4)  # fmt: skip
    fe, schema = load_dataset_contract(str(out))
    assert (fe.epochs_from, fe.epochs_tmin, fe.epochs_tmax, fe.window_seconds) == ("annotations:eyes closed", 0.0,
                                                                                   4.0, 2.0)  # fmt: skip
    settings = json.loads((out / "build_report.json").read_text())["settings"]
    assert settings["trials"] and (settings["tmin"], settings["tmax"]) == (0.0, 4.0)


def test_stim_channel_events(eyes, tmp_path):
    """A stim channel written from the recording's real annotations (code 1 = eyes open, 2 = eyes closed)."""
    raw = read_raw(eyes["edf"])
    stim = np.zeros((1, raw.n_times))
    for onset, name in zip(eyes["onsets"], eyes["names"]):
        stim[0, round(onset * 200) : round(onset * 200) + 10] = 1 if name == "eyes open" else 2
    raw.add_channels([mne.io.RawArray(stim, mne.create_info(["STI"], 200.0, ["stim"]), verbose="error")],
                     force_update_info=True)  # fmt: skip
    raw.set_annotations(None)
    path = tmp_path / "stim_raw.fif"
    raw.save(path, verbose="error")
    ds = build(path, epochs_from="stim:STI", tmin=0, tmax=2, labels="events",
               label_map={"1": "open", "2": "closed"})  # fmt: skip
    assert list(ds["event"]) == ["1" if n == "eyes open" else "2" for n in eyes["names"]]
    np.testing.assert_allclose(ds["onset"], [round(o * 200) / 200 for o in eyes["onsets"]], atol=1e-9)
    assert ds.features["label"].names == ["closed", "open"]
    # without a label map the codes are the (integer) labels
    plain = build(path, epochs_from="stim", tmin=0, tmax=2, labels="events")
    assert plain.features["label"].dtype == "int64" and sorted(set(plain["label"])) == [1, 2]


# --------------------------------------------------------------------------------------------------------------------
# prepare: epoch files
# --------------------------------------------------------------------------------------------------------------------


def test_prepare_epoch_files(eyes, tmp_path, capsys):
    """-epo.fif and EEGLAB epoch files become one row per trial; the saved extractor reproduces the rows."""
    out = tmp_path / "erp"
    with pytest.warns(UserWarning, match="shorter than"):
        ds = build([eyes["fif"]], out, labels="events")
    ds = ds.with_format("numpy")
    assert len(ds) == 7 and ds.features["input_values"].shape == (None, 800)
    assert ds.features["label"].names == ["eyes closed", "eyes open"]
    assert list(ds["event"]) == eyes["names"]
    np.testing.assert_allclose(ds["onset"], [round(o * 200) / 200 for o in eyes["onsets"]], atol=1e-9)
    fe, _ = load_dataset_contract(str(out))
    with pytest.warns(UserWarning, match="shorter than"):
        again = fe(read_epochs(eyes["fif"]), return_tensors="np")["input_values"]
    np.testing.assert_array_equal(again, ds["input_values"])
    # the EEGLAB copy gives the same trials (it stores float32 samples)
    with pytest.warns(UserWarning, match="shorter than"):
        ds_set = build(eyes["set"], labels="events").with_format("numpy")
    np.testing.assert_allclose(ds_set["input_values"], ds["input_values"], rtol=0, atol=1e-5)
    assert list(ds_set["event"]) == eyes["names"]
    # through the CLI, cropped to [1, 3) s around each event
    code = cli.main(["prepare", str(eyes["plain"]), "-o", str(tmp_path / "crop"), "--tmin", "1", "--tmax", "3",
                     "--labels", "events", "--label-map", json.dumps(EYES), "-q"])  # fmt: skip
    assert code == 0
    assert "wrote 7 trial rows of 2 s" in capsys.readouterr().out
    crop = datasets.load_from_disk(str(tmp_path / "crop")).with_format("numpy")
    assert crop.features["label"].names == ["closed", "open"]
    np.testing.assert_allclose(crop["start"], np.asarray(ds["onset"]) + 1.0, atol=1e-4)
    fe_crop, _ = load_dataset_contract(str(tmp_path / "crop"))
    with pytest.warns(UserWarning, match="shorter than"):
        again = fe_crop(read_epochs(eyes["plain"]), return_tensors="np")["input_values"]
    np.testing.assert_array_equal(again, crop["input_values"])


def test_50hz_epoch_file_fails_with_the_sampling_rate_error(eyes, tmp_path, capsys):
    assert read_epochs(eyes["low"]).info["sfreq"] == 50.0  # readable: the problem is the rate, not the file
    with pytest.raises(DatasetBuildError, match="sampling rate 50 Hz is below 100 Hz") as info:
        build(eyes["low"])
    assert "cannot read" not in str(info.value) and str(eyes["low"]) in str(info.value)
    code = cli.main(["prepare", str(eyes["low"]), "-o", str(tmp_path / "low"), "-q"])
    assert code == 2 and "sampling rate 50 Hz is below 100 Hz" in capsys.readouterr().err
    with pytest.raises(LaBraMError, match="sampling rate 50 Hz is below 100 Hz"):
        LaBraMFeatureExtractor()(read_epochs(eyes["low"]))


def test_epoch_file_channel_policy_and_units(eyes, tmp_path):
    epochs = read_epochs(eyes["fif"]).rename_channels({"EEG Fp1": "EEG Foo1"})
    path = tmp_path / "odd-epo.fif"
    epochs.save(path, verbose="error")
    with pytest.raises(DatasetBuildError, match="EEG Foo1"):
        build(path)
    with pytest.warns(UserWarning, match="EEG Foo1"):
        ds = build(path, channel_policy="lenient")
    assert len(ds) == 7 and len(ds[0]["channel_ids"]) == 20
    # microvolt numbers stored as volts: the unit check of continuous data applies
    wrong = mne.EpochsArray(read_epochs(eyes["fif"]).get_data() * 1e6, eyes["epochs"].info, verbose="error")
    with pytest.warns(UserWarning, match="wrong unit suspected"):
        LaBraMFeatureExtractor()(wrong)


# --------------------------------------------------------------------------------------------------------------------
# --annotations FILE (an EDF+ hypnogram next to the recording)
# --------------------------------------------------------------------------------------------------------------------


def write_hypnogram(path, stages, start=None):
    """An EDF+ file holding only annotations (like a Sleep-EDF hypnogram), written with edfio."""
    from edfio import Edf, EdfAnnotation, Recording

    kwargs = {}
    if start is not None:
        kwargs = {"recording": Recording(startdate=start.date()), "starttime": start.time().replace(tzinfo=None)}
    Edf([], annotations=[EdfAnnotation(o, d, t) for o, d, t in stages], **kwargs).write(path)
    return path


def test_annotations_file_labels_windows_and_trials(eyes, tmp_path, capsys):
    psg = export_crop("absence", tmp_path / "psg.edf", 100, 160)  # no annotations of its own
    stages = [(0.0, 30.0, "Sleep stage W"), (30.0, 30.0, "Sleep stage 2")]
    hyp = write_hypnogram(tmp_path / "psg-hypnogram.edf", stages)
    label_map = {"Sleep stage W": "wake", "Sleep stage 2": "sleep"}
    ds = build(psg, labels="annotations", label_map=label_map, annotations=hyp)
    assert list(ds["start"]) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert [ds.features["label"].names[i] for i in ds["label"]] == ["wake"] * 3 + ["sleep"] * 3
    # a hypnogram whose header says it starts 10 s after the recording: its onsets are shifted
    start = read_raw(psg).info["meas_date"] + dt.timedelta(seconds=10)
    late = write_hypnogram(tmp_path / "late.edf", [(0.0, 20.0, "Sleep stage W"), (20.0, 30.0, "Sleep stage 2")], start)
    ds = build(psg, labels="annotations", label_map=label_map, annotations=late)
    assert dict(zip(ds["start"], [ds.features["label"].names[i] for i in ds["label"]])) == {
        10.0: "wake", 20.0: "wake", 30.0: "sleep", 40.0: "sleep", 50.0: "sleep"}  # fmt: skip
    # trials at the hypnogram's events, through the CLI
    out = tmp_path / "trials"
    code = cli.main(["prepare", str(psg), "-o", str(out), "--annotations", str(hyp), "--epochs-from", "annotations",
                     "--tmin", "0", "--tmax", "5", "--labels", "events", "-q"])  # fmt: skip
    assert code == 0
    trials = datasets.load_from_disk(str(out))
    assert list(trials["event"]) == ["Sleep stage W", "Sleep stage 2"] and list(trials["onset"]) == [0.0, 30.0]
    # several recordings: a CSV (relative paths from its directory); the hypnogram replaces eyes.edf's annotations
    sheet = tmp_path / "annotations.csv"
    sheet.write_text(f"path,annotations\n{psg.name},{hyp.name}\n{eyes['edf']},{hyp}\n")
    ds = build([psg, eyes["edf"]], labels="annotations", label_map=label_map, annotations=f"csv:{sheet}")
    assert list(ds["source"]).count(str(eyes["edf"])) == 6 and len(ds) == 12
    assert [ds.features["label"].names[i] for i in ds["label"]] == (["wake"] * 3 + ["sleep"] * 3) * 2
    # annotations that do not belong to the recording, and one file for two recordings
    far = write_hypnogram(tmp_path / "far.edf", [(500.0, 30.0, "Sleep stage W")])
    with pytest.raises(DatasetBuildError, match="none of its 1 annotation"):
        build(psg, labels="annotations", label_map=label_map, annotations=far)
    with pytest.raises(DatasetBuildError, match="one annotation file, but there are 2 input recordings"):
        build([psg, eyes["edf"]], labels="annotations", label_map=label_map, annotations=hyp)
    code = cli.main(["prepare", str(psg), "-o", str(tmp_path / "x"), "--annotations", str(tmp_path / "none.edf"),
                     "--labels", "annotations", "--label-map", json.dumps(label_map), "-q"])  # fmt: skip
    assert code == 2 and "annotation file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------------
# feature extractor, streaming, and bad settings
# --------------------------------------------------------------------------------------------------------------------


def test_feature_extractor_takes_epochs(eyes, absence_4s):
    epochs = read_epochs(eyes["fif"])
    fe = LaBraMFeatureExtractor()
    with pytest.warns(UserWarning, match="shorter than"):
        batch = fe(epochs, return_tensors="np")
    with pytest.warns(UserWarning, match="shorter than"):
        ref = preprocess_epochs(epochs).values
    assert batch["input_values"].shape == (7, 21, 800)
    np.testing.assert_array_equal(batch["input_values"], ref)
    with pytest.warns(UserWarning, match="shorter than"):
        mixed = fe([epochs[:2], absence_4s], return_tensors="np")
    assert mixed["input_values"].shape == (3, 21, 800)
    np.testing.assert_array_equal(mixed["input_values"][:2], ref[:2])
    np.testing.assert_array_equal(mixed["input_values"][2], fe(absence_4s, return_tensors="np")["input_values"][0])


@pytest.fixture
def absence_4s(eyes):
    return read_raw(eyes["edf"]).pick(read_epochs(eyes["fif"]).ch_names).crop(20.0, 24.0, include_tmax=False)


def test_iter_dataset_streams_trial_rows(eyes):
    kw = dict(epochs_from="annotations", tmin=0, tmax=4, labels="events", label_map=EYES)
    built = build(eyes["edf"], **kw).with_format("numpy")
    streamed = list(iter_dataset(eyes["edf"], **kw))
    assert [r["event"] for r in streamed] == list(built["event"])
    np.testing.assert_array_equal(np.stack([r["input_values"] for r in streamed]), built["input_values"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tmin": 0, "tmax": 4}, "no epochs_from was given"),
        ({"labels": "events"}, "no epochs_from was given"),
        ({"epochs_from": "annotations"}, "needs tmin and tmax"),
        ({"epochs_from": "annotations", "tmin": 0, "tmax": 4.5}, "not a whole number of 1-s patches"),
        ({"epochs_from": "annotations", "tmin": 3, "tmax": 1}, "must be after tmin"),
        ({"epochs_from": "annotations:", "tmin": 0, "tmax": 4}, "names no events"),
        ({"epochs_from": "stim:STI 014", "tmin": 0, "tmax": 4}, "no channel named 'STI 014'"),
        ({"epochs_from": "annotations", "tmin": 0, "tmax": 4, "labels": "events", "label_map": {"blink": "b"}},
         "no event matched the label map \\['blink'\\]; events found: 'eyes open' \\(4\\), 'eyes closed' \\(3\\)"),
        ({"epochs_from": "annotations", "tmin": -80, "tmax": -76}, "all 7 trial\\(s\\) reach outside"),
        ({"epochs_from": "annotations", "tmin": 0, "tmax": 4, "window_seconds": 6}, "longer than the trials"),
    ],
)  # fmt: skip
def test_bad_trial_settings(eyes, kwargs, match):
    with pytest.raises(DatasetBuildError, match=match):
        build(eyes["edf"], **kwargs)


def test_mixed_inputs_and_bad_epoch_crop(eyes):
    with pytest.raises(DatasetBuildError, match="a continuous recording, while .* holds trials") as info:
        build([eyes["fif"], eyes["edf"]])
    assert str(eyes["edf"]) in str(info.value)
    with pytest.raises(DatasetBuildError, match="lie outside its trials"):
        build(eyes["fif"], tmin=2, tmax=6)
    with pytest.warns(UserWarning, match="shorter than"):
        both = build([eyes["fif"], eyes["edf"]], epochs_from="annotations", tmin=0, tmax=4, labels="events")
    assert len(both) == 14 and list(both["source"]).count(str(eyes["edf"])) == 7
