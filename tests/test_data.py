"""Benchmark data: the GM tagging set (plan, render, cache), the MTAT loader, the tf.data pipeline."""
import hashlib
import os
import shutil
import subprocess

import mido
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from zoo.datasets import gm
from zoo.datasets.fluidsynth import SoundfontNotFoundError, find_soundfont, render_midi
from zoo.datasets.gm_plan import (
    DRUM_CHANNEL,
    DRUM_FAMILY,
    DRUM_KITS,
    FAMILIES,
    GM_TAG_GROUPS,
    GM_TAGS,
    MIN_NOTE_SECONDS,
    ONSETS_PER_BEAT,
    RHYTHM_CLASSES,
    TEMPO_CLASSES,
    piece_to_midi,
    plan_clip,
)
from zoo.datasets.mtat import MTAT_ANNOTATIONS, load_mtat

SR = 16000
TINY = dict(n_train=3, n_valid=1, n_test=2, seed=7, clip_seconds=2.0, progress=False)
PLANS = [plan_clip(3, "train", i, 10.0) for i in range(300)]


def _require_fluidsynth():
    try:
        find_soundfont()
    except SoundfontNotFoundError as error:
        pytest.skip(str(error))
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed")


@pytest.fixture(scope="module")
def tiny_gm(tmp_path_factory):
    _require_fluidsynth()
    return gm.make_gm_dataset(tmp_path_factory.mktemp("gm"), **TINY)


def _samples(path):
    return sf.read(path, dtype="int16")[0]


def _file_stamps(directory):
    return {
        os.path.join(base, name): os.stat(os.path.join(base, name)).st_mtime_ns
        for base, _, names in os.walk(directory)
        for name in names
    }


def _onsets(notes):
    return np.unique(np.round([n.start for n in notes], 6))


def _on_beat(note, beat_seconds):
    beats = note.start / beat_seconds
    return abs(beats - round(beats)) < 1e-6


def _sounding_notes_at_end(track):
    now, sounding = 0, set()
    for message in track:
        now += message.time
        if message.type == "note_on":
            assert message.note not in sounding, "a note struck again before its end"
            sounding.add(message.note)
        elif message.type == "note_off":
            sounding.discard(message.note)
    return sounding, now, [m for m in track if not m.is_meta][-1]


# --- the plan: tags are true of the score ------------------------------------------------------

def test_drum_tag_iff_a_channel_10_part():
    for plan in PLANS:
        drum_parts = [p for p in plan.parts if p.channel == DRUM_CHANNEL]
        assert (DRUM_FAMILY in plan.tags) == bool(drum_parts)
        assert all(p.family == DRUM_FAMILY and p.program in DRUM_KITS for p in drum_parts)


def test_drums_reach_channel_10_in_the_midi():
    for plan in PLANS[:40]:
        channels = {m.channel for track in piece_to_midi(plan).tracks for m in track if m.type == "note_on"}
        assert (DRUM_CHANNEL in channels) == (DRUM_FAMILY in plan.tags)


def test_midi_notes_all_end_and_tracks_close_with_all_sound_off():
    # A note left sounding on a looping sample makes fluidsynth render forever.
    for plan in PLANS:
        midi = piece_to_midi(plan)
        for track in midi.tracks[1:]:
            sounding, last_tick, last = _sounding_notes_at_end(track)
            assert not sounding
            assert last.type == "control_change" and last.control == 120
            assert abs(mido.tick2second(last_tick, midi.ticks_per_beat, mido.bpm2tempo(plan.bpm)) - plan.seconds) < 0.01


def test_render_gives_up_on_a_file_that_never_ends(tmp_path):
    _require_fluidsynth()
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([
        mido.Message("program_change", program=19),  # church organ: a looping sustain
        mido.Message("note_on", note=60, velocity=100),
    ]))
    midi.save(tmp_path / "stuck.mid")
    with pytest.raises(subprocess.TimeoutExpired):
        render_midi(tmp_path / "stuck.mid", tmp_path / "stuck.wav", timeout=0.5)


def test_pitched_parts_use_their_family_programs_and_range():
    for plan in PLANS:
        for part in plan.parts:
            if part.family == DRUM_FAMILY:
                continue
            family = FAMILIES[part.family]
            assert part.program in family.programs
            assert all(family.lowest <= n.pitch <= family.highest for n in part.notes)


def test_one_to_four_distinct_families_and_one_class_per_temporal_facet():
    for plan in PLANS:
        families = [p.family for p in plan.parts]
        assert 1 <= len(families) <= 4 and len(set(families)) == len(families)
        assert plan.tempo_class in TEMPO_CLASSES and plan.density in ONSETS_PER_BEAT
        assert plan.rhythm in RHYTHM_CLASSES
        low, high = TEMPO_CLASSES[plan.tempo_class]
        assert low <= plan.bpm <= high


def test_density_classes_are_apart_in_onsets_per_second_whatever_the_tempo():
    fastest_sparse = max(high for _, high in TEMPO_CLASSES.values()) / 60 * max(ONSETS_PER_BEAT["sparse"])
    slowest_dense = min(low for low, _ in TEMPO_CLASSES.values()) / 60 * min(ONSETS_PER_BEAT["dense"])
    assert fastest_sparse < slowest_dense


def test_density_is_the_onsets_per_beat_of_the_piece():
    for plan in PLANS:
        assert plan.onsets_per_beat in ONSETS_PER_BEAT[plan.density]
        onsets = _onsets(n for p in plan.parts for n in p.notes)
        grid_positions = plan.seconds / plan.grid_step_seconds
        assert 0.7 * grid_positions <= len(onsets) <= grid_positions + 1


def test_the_leading_part_plays_every_beat_and_accents_it():
    for plan in (p for p in PLANS if p.rhythm == "steady"):
        beat_seconds = 60 / plan.bpm
        lead = plan.parts[0].notes
        beats = np.arange(0, plan.seconds - MIN_NOTE_SECONDS, beat_seconds)
        np.testing.assert_allclose(beats, _onsets(n for n in lead if _on_beat(n, beat_seconds)), atol=1e-5)
        if plan.density == "dense":
            on = np.mean([n.velocity for n in lead if _on_beat(n, beat_seconds)])
            off = np.mean([n.velocity for n in lead if not _on_beat(n, beat_seconds)])
            assert on > off + 15


def test_steady_onsets_sit_on_the_grid():
    for plan in (p for p in PLANS if p.rhythm == "steady"):
        steps = _onsets(n for p in plan.parts for n in p.notes) / plan.grid_step_seconds
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)


def test_rubato_moves_onsets_off_the_grid():
    for plan in (p for p in PLANS if p.rhythm == "rubato"):
        steps = _onsets(n for p in plan.parts for n in p.notes)[1:] / plan.grid_step_seconds
        assert np.abs(steps - np.round(steps)).mean() > 0.05


def test_notes_stay_inside_the_clip():
    for plan in PLANS:
        for part in plan.parts:
            assert all(0 <= n.start < n.end <= plan.seconds for n in part.notes)


def test_plans_depend_only_on_seed_split_and_index():
    assert plan_clip(3, "train", 5, 10.0) == PLANS[5]
    assert plan_clip(4, "train", 5, 10.0) != PLANS[5]
    assert plan_clip(3, "valid", 5, 10.0) != PLANS[5]


# --- the rendered set ----------------------------------------------------------------------------

def test_annotations_and_tag_groups(tiny_gm):
    frame = tiny_gm.annotations
    assert list(frame.columns) == ["path", "split", *GM_TAGS]
    assert tiny_gm.tags == GM_TAGS
    assert tiny_gm.tag_groups == GM_TAG_GROUPS and set(GM_TAG_GROUPS.values()) == {"timbre", "temporal"}
    assert set(frame[list(GM_TAGS)].to_numpy().ravel()) <= {0, 1}
    for facet in (TEMPO_CLASSES, ONSETS_PER_BEAT, RHYTHM_CLASSES):
        assert (frame[list(facet)].sum(axis=1) == 1).all()
    timbre = [t for t, g in GM_TAG_GROUPS.items() if g == "timbre"]
    assert frame[timbre].sum(axis=1).between(1, 4).all()


def test_labels_are_the_plans_labels(tiny_gm):
    for split, group in tiny_gm.annotations.groupby("split"):
        for index, (_, row) in enumerate(group.iterrows()):
            plan = plan_clip(TINY["seed"], split, index, TINY["clip_seconds"])
            assert row[list(GM_TAGS)].tolist() == plan.labels().tolist()


def test_splits_are_disjoint_and_sized(tiny_gm):
    frame = tiny_gm.annotations
    assert frame["split"].value_counts().to_dict() == {"train": 3, "valid": 1, "test": 2}
    assert frame["path"].is_unique
    digests = {hashlib.sha1(_samples(tiny_gm.audio_path(row)).tobytes()).hexdigest() for _, row in frame.iterrows()}
    assert len(digests) == len(frame)


def test_clips_are_16k_mono_16bit_and_normalised(tiny_gm):
    for path in tiny_gm.audio_paths("train"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 1, 2 * SR, "PCM_16")
        peak = np.abs(sf.read(path, dtype="float32")[0]).max()
        assert 0.4 < peak <= 0.9


def test_same_seed_same_labels_and_samples(tiny_gm, tmp_path):
    again = gm.make_gm_dataset(tmp_path, **TINY)
    pd.testing.assert_frame_equal(again.annotations, tiny_gm.annotations)
    for _, row in tiny_gm.annotations.iterrows():
        np.testing.assert_array_equal(_samples(again.audio_path(row)), _samples(tiny_gm.audio_path(row)))


def test_rerun_renders_nothing(tiny_gm, monkeypatch):
    before = _file_stamps(tiny_gm.root)
    monkeypatch.setattr(gm, "render_clip", _must_not_render)
    again = gm.make_gm_dataset(os.path.dirname(tiny_gm.root), **TINY)
    assert again.root == tiny_gm.root
    assert _file_stamps(tiny_gm.root) == before


def _must_not_render(*args, **kwargs):
    raise AssertionError("a cached clip was rendered again")


def test_interrupted_set_resumes_with_only_the_missing_clips(tiny_gm, tmp_path, monkeypatch):
    copy = os.path.join(tmp_path, os.path.basename(tiny_gm.root))
    shutil.copytree(tiny_gm.root, copy)
    lost = tiny_gm.annotations["path"][4]
    os.remove(os.path.join(copy, lost))
    os.remove(os.path.join(copy, "annotations.csv"))
    open(os.path.join(copy, os.path.dirname(lost), ".half-written.partial"), "wb").close()
    rendered = []
    real_render = gm.render_clip
    monkeypatch.setattr(gm, "render_clip",
                        lambda plan, path, *rest: rendered.append(path) or real_render(plan, path, *rest))
    resumed = gm.make_gm_dataset(tmp_path, **TINY)
    (written,) = rendered  # under a temporary name beside the clip, then renamed (zoo.files.cached_file)
    assert os.path.dirname(written) == os.path.join(copy, os.path.dirname(lost))
    assert written.endswith(os.path.basename(lost))
    pd.testing.assert_frame_equal(resumed.annotations, tiny_gm.annotations)
    np.testing.assert_array_equal(_samples(os.path.join(copy, lost)), _samples(tiny_gm.audio_path(lost)))


def test_directory_is_keyed_by_what_determines_the_set(tmp_path):
    sizes = {"train": 3, "valid": 1, "test": 2}
    base = gm.gm_dataset_dir(tmp_path, sizes, 7, SR, 2.0, "flac")
    assert base != gm.gm_dataset_dir(tmp_path, sizes, 8, SR, 2.0, "flac")
    assert base != gm.gm_dataset_dir(tmp_path, {**sizes, "test": 3}, 7, SR, 2.0, "flac")
    assert base != gm.gm_dataset_dir(tmp_path, sizes, 7, SR, 3.0, "flac")
    assert f"v{gm.GM_VERSION}" in os.path.basename(base)


# --- tf.data pipeline ----------------------------------------------------------------------------

def test_pipeline_batches_crops_and_labels(tiny_gm):
    from zoo.datasets.pipeline import make_dataset

    pipeline = make_dataset(tiny_gm, "train", batch_size=2, clip_samples=SR, seed=1)
    batches, next_epoch = list(pipeline), list(pipeline)
    assert not np.array_equal(np.concatenate([w for w, _ in batches]), np.concatenate([w for w, _ in next_epoch]))
    assert [tuple(w.shape) for w, _ in batches] == [(2, SR), (1, SR)]
    assert all(w.dtype.name == "float32" and y.dtype.name == "float32" for w, y in batches)
    assert sorted(map(tuple, np.concatenate([y.numpy() for _, y in batches]))) == sorted(
        map(tuple, tiny_gm.labels("train"))
    )
    again = list(make_dataset(tiny_gm, "train", batch_size=2, clip_samples=SR, seed=1))
    for (w1, y1), (w2, y2) in zip(batches, again):
        np.testing.assert_array_equal(w1.numpy(), w2.numpy())
        np.testing.assert_array_equal(y1.numpy(), y2.numpy())


def test_pipeline_decodes_the_stored_samples(tiny_gm):
    from zoo.datasets.pipeline import make_dataset

    (whole, labels), = list(make_dataset(tiny_gm, "valid", batch_size=4))
    stored = _samples(tiny_gm.audio_paths("valid")[0]) / 32768.0
    np.testing.assert_allclose(whole.numpy()[0], stored, atol=1e-7)
    np.testing.assert_array_equal(labels.numpy(), tiny_gm.labels("valid"))
    (center, _), = list(make_dataset(tiny_gm, "valid", batch_size=4, clip_samples=SR))
    np.testing.assert_allclose(center.numpy()[0], stored[SR // 2: SR // 2 + SR], atol=1e-7)


def test_pipeline_repeats_with_fresh_crops(tiny_gm):
    from zoo.datasets.pipeline import make_dataset

    stream = iter(make_dataset(tiny_gm, "test", 2, clip_samples=SR // 4, shuffle=False, random_crop=True,
                               repeat=True, seed=3))
    first, second = next(stream)[0].numpy(), next(stream)[0].numpy()
    assert first.shape == second.shape == (2, SR // 4)
    assert not np.array_equal(first, second)


# --- MagnaTagATune -------------------------------------------------------------------------------

MTAT_CLIPS = {  # mp3_path -> expected split
    "0/artist_a-album-01-first-0-29.mp3": "train",
    "b/artist_b-album-02-second-30-59.mp3": "train",
    "c/artist_c-album-03-third-0-29.mp3": "valid",
    "d/artist_d-album-04-fourth-0-29.mp3": "test",
    "f/artist_e-album-05-fifth-60-89.mp3": "test",
    "e/artist_f-album-06-empty-0-29.mp3": None,  # an empty file, as a few are in the real set
}
RARE_TAGS = ("rare a", "rare b", "rare c", "rare d", "rare e")


@pytest.fixture(scope="module")
def mtat_root(tmp_path_factory):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write mp3, so the MTAT fixture cannot be made")
    root = tmp_path_factory.mktemp("mtat")
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    for path, split in MTAT_CLIPS.items():
        os.makedirs(root / os.path.dirname(path), exist_ok=True)
        if split is None:
            open(root / path, "wb").close()
        else:
            sf.write(root / path, tone, SR, format="MP3", subtype="MPEG_LAYER_III")
    _mtat_annotations().to_csv(root / MTAT_ANNOTATIONS, sep="\t", index=False, quoting=1)
    return root


def _mtat_annotations():
    """55 tags over 6 clips: 50 common ones (2-6 clips each, "guitar" the most), 5 in <= 1 clip,
    the rare ones first in file order so that order alone cannot select them."""
    paths = list(MTAT_CLIPS)
    common = ["guitar", "slow", "choir"] + [f"tag {k:02d}" for k in range(47)]
    columns = {tag: [int(i == k) for i in range(len(paths))] for k, tag in enumerate(RARE_TAGS)}
    for k, tag in enumerate(common):
        count = 6 if tag == "guitar" else 2 + k % 4
        columns[tag] = [int((i + k) % len(paths) < count) for i in range(len(paths))]
    frame = pd.DataFrame({"clip_id": range(len(paths)), **columns, "mp3_path": paths})
    return frame


def test_mtat_top_tags_folder_split_and_groups(mtat_root):
    data = load_mtat(mtat_root)
    assert len(data.tags) == 50 and not set(RARE_TAGS) & set(data.tags)
    assert data.tags[0] == "guitar"
    file_counts = _mtat_annotations()[list(data.tags)].sum(axis=0).to_numpy()
    assert (np.diff(file_counts) <= 0).all()
    expected = {p: s for p, s in MTAT_CLIPS.items() if s is not None}
    assert dict(zip(data.annotations["path"], data.annotations["split"])) == expected
    assert data.info["skipped_missing"] == 1
    assert data.tag_groups["guitar"] == "timbre" and data.tag_groups["slow"] == "temporal"
    assert data.tag_groups["tag 00"] == "other"
    assert list(data.annotations.columns) == ["path", "split", *data.tags]


def test_mtat_mp3s_go_through_the_pipeline(mtat_root):
    from zoo.datasets.pipeline import make_dataset

    data = load_mtat(mtat_root)
    (crops, labels), = list(make_dataset(data, "test", batch_size=4, clip_samples=SR // 2))
    assert tuple(crops.shape) == (2, SR // 2) and tuple(labels.shape) == (2, 50)
    (whole, _), = list(make_dataset(data, "train", batch_size=4, shuffle=False))
    assert whole.shape[0] == 2 and abs(whole.shape[1] - SR) < 1200
    assert 0.2 < float(np.abs(whole.numpy()).max()) < 0.4  # the 0.3 tone, decoded as mp3
