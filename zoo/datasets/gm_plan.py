"""Random General-MIDI pieces with known tags: the score side of the GM tagging dataset.

A piece is planned from a seeded generator before anything is rendered, so its tags are true
by construction: 1-4 instrument families play at once (timbre tags) on a shared rhythmic grid
whose tempo class, onset density and regularity are drawn independently (temporal tags).

Temporal tags, each meant to be heard, not only written:
- tempo class: the beat rate, from well separated BPM ranges (``TEMPO_CLASSES``). The beat is
  always marked: the leading part plays on every beat, notes on the beat are accented, chords
  change every bar, and drums (when present) put kick and snare on the beats;
- density: onsets per beat of the leading part (``ONSETS_PER_BEAT``): "sparse" one (quarter
  notes), "dense" three or four (triplets, sixteenths). With the tempo ranges below a sparse
  piece never exceeds 175/60 = 2.9 onsets/s and a dense one never goes below 3 onsets/s;
- rhythm: "steady" onsets sit exactly on the grid; "rubato" onsets move by up to
  ``RUBATO_JITTER`` of a grid step (shared by all parts, as an ensemble playing freely) on top
  of a slow tempo drift small enough to keep the tempo classes apart.
"""
import math
from dataclasses import dataclass

import mido
import numpy as np

__all__ = [
    "Family",
    "FAMILIES",
    "DRUM_FAMILY",
    "DRUM_CHANNEL",
    "DRUM_KITS",
    "TEMPO_CLASSES",
    "ONSETS_PER_BEAT",
    "RHYTHM_CLASSES",
    "RUBATO_JITTER",
    "MIN_NOTE_SECONDS",
    "TIMBRE_TAGS",
    "TEMPORAL_TAGS",
    "GM_TAGS",
    "GM_TAG_GROUPS",
    "Note",
    "Part",
    "PiecePlan",
    "plan_piece",
    "plan_clip",
    "piece_to_midi",
]


@dataclass(frozen=True)
class Family:
    """An instrument family: its General MIDI programs (0-based), pitch range and chord size."""

    programs: tuple
    lowest: int
    highest: int
    max_voices: int


# GM program families (0-based numbers). Programs that would blur two families are left out:
# accordion/harmonica (reed-like organs), pizzicato/harp/timpani (plucked or struck "strings"),
# synth brass (close to synth leads) and orchestra hit.
FAMILIES = {
    "piano": Family(tuple(range(0, 8)), 45, 84, 3),
    "chromatic_percussion": Family(tuple(range(8, 16)), 60, 96, 2),
    "organ": Family(tuple(range(16, 21)), 48, 79, 3),
    "guitar": Family(tuple(range(24, 31)), 40, 76, 3),
    "bass": Family(tuple(range(32, 40)), 28, 52, 1),
    "strings": Family((40, 41, 42, 43, 44, 48, 49), 48, 84, 3),
    "choir": Family((52, 53, 54), 52, 76, 3),
    "brass": Family(tuple(range(56, 62)), 46, 77, 2),
    "reed": Family(tuple(range(64, 72)), 48, 79, 1),
    "pipe": Family(tuple(range(72, 80)), 65, 96, 1),
    "synth_lead": Family(tuple(range(80, 88)), 57, 88, 1),
    "synth_pad": Family(tuple(range(88, 96)), 48, 79, 3),
}
DRUM_FAMILY = "drums"
DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush
KICK, SNARE, CLOSED_HAT, CRASH = 36, 38, 42, 49
DRUM_HIT_SECONDS = 0.1

TEMPO_CLASSES = {"slow": (60.0, 75.0), "medium": (95.0, 115.0), "fast": (145.0, 175.0)}
ONSETS_PER_BEAT = {"sparse": (1,), "dense": (3, 4)}  # of the leading part
RHYTHM_CLASSES = ("steady", "rubato")
# Parts after the first play every grid step, every beat or every other beat.
PART_STEP_BEATS = (None, 1, 2)  # None: the grid step
REST_PROBABILITY = 0.15  # the leading part and the drums never rest on a beat
BEATS_PER_BAR = 4
ACCENTS = {"downbeat": 15, "beat": 8, "offbeat": -15}  # velocity offsets
RUBATO_JITTER = 0.3  # of a grid step, either way
RUBATO_MAX_TEMPO_DRIFT = 0.06  # relative; keeps 75 BPM * 1.06 < 95 BPM * 0.94
RUBATO_DRIFT_PERIOD_S = (3.0, 6.0)

TIMBRE_TAGS = tuple(FAMILIES) + (DRUM_FAMILY,)
TEMPORAL_TAGS = tuple(TEMPO_CLASSES) + tuple(ONSETS_PER_BEAT) + RHYTHM_CLASSES
GM_TAGS = TIMBRE_TAGS + TEMPORAL_TAGS
GM_TAG_GROUPS = {**{t: "timbre" for t in TIMBRE_TAGS}, **{t: "temporal" for t in TEMPORAL_TAGS}}

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 0, 3, 4), (0, 6, 5, 4))
NOTE_LENGTH = (0.5, 0.95)  # of the part's step
MIN_NOTE_SECONDS = 0.03  # shorter notes (cut by the clip's end) are left out
ALL_SOUND_OFF = 120  # MIDI controller
PART_VELOCITY = (70, 110)
PART_VOLUME = (90, 127)  # CC7; GM volume is ~40*log10(v/127) dB, so at most about -6 dB
GAIN_DB = (-6.0, 0.0)
TICKS_PER_BEAT = 480
SPLIT_IDS = {"train": 0, "valid": 1, "test": 2}


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Part:
    family: str
    program: int
    channel: int
    volume: int
    notes: tuple


@dataclass(frozen=True)
class PiecePlan:
    bpm: float
    tempo_class: str
    density: str
    rhythm: str
    onsets_per_beat: int
    parts: tuple
    gain_db: float  # the rendered clip's peak level, relative to just under full scale
    seconds: float

    @property
    def grid_step_seconds(self):
        return 60.0 / self.bpm / self.onsets_per_beat

    @property
    def tags(self):
        return tuple(p.family for p in self.parts) + (self.tempo_class, self.density, self.rhythm)

    def labels(self, tags=GM_TAGS):
        present = set(self.tags)
        return np.array([t in present for t in tags], dtype=np.int8)


def plan_clip(seed, split, index, seconds):
    """The piece of clip ``index`` in ``split``: the same for the same (seed, split, index)."""
    return plan_piece(np.random.default_rng([seed, SPLIT_IDS[split], index]), seconds)


def plan_piece(rng, seconds):
    tempo_class = _choice(rng, tuple(TEMPO_CLASSES))
    density = _choice(rng, tuple(ONSETS_PER_BEAT))
    rhythm = _choice(rng, RHYTHM_CLASSES)
    bpm = float(rng.uniform(*TEMPO_CLASSES[tempo_class]))
    onsets_per_beat = _choice(rng, ONSETS_PER_BEAT[density])
    clock = _Clock(rng, bpm, onsets_per_beat, seconds, rhythm)
    harmony = _Harmony(rng)
    families = _choose_families(rng)
    channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    parts = tuple(
        _drum_part(rng, clock) if family == DRUM_FAMILY
        else _pitched_part(rng, family, next(channels), clock, harmony, leads=i == 0)
        for i, family in enumerate(families)
    )
    gain_db = float(rng.uniform(*GAIN_DB))
    return PiecePlan(bpm, tempo_class, density, rhythm, onsets_per_beat, parts, gain_db, seconds)


def _choice(rng, options):
    return options[int(rng.integers(len(options)))]


def _choose_families(rng):
    count = int(rng.integers(1, 5))
    picked = rng.choice(len(TIMBRE_TAGS), size=count, replace=False)
    return tuple(TIMBRE_TAGS[i] for i in picked)


class _Clock:
    """Grid positions (``onsets_per_beat`` to a beat) -> performed onset times in seconds."""

    def __init__(self, rng, bpm, onsets_per_beat, seconds, rhythm):
        self.bpm = bpm
        self.onsets_per_beat = onsets_per_beat
        self.step_seconds = 60.0 / bpm / onsets_per_beat
        self.seconds = seconds
        self.positions = int(math.ceil(seconds / self.step_seconds))
        self._onsets = self._grid_onsets(rng, rhythm)

    def _grid_onsets(self, rng, rhythm):
        nominal = np.arange(self.positions + 1) * self.step_seconds
        if rhythm == "steady":
            return nominal
        period = rng.uniform(*RUBATO_DRIFT_PERIOD_S)
        amplitude = RUBATO_MAX_TEMPO_DRIFT * period / (2 * math.pi)
        phase = rng.uniform(0, 2 * math.pi)
        drift = amplitude * (np.sin(2 * math.pi * nominal / period + phase) - math.sin(phase))
        jitter = rng.uniform(-RUBATO_JITTER, RUBATO_JITTER, size=nominal.shape) * self.step_seconds
        jitter[0] = 0.0  # the piece starts at once
        return nominal + drift + jitter

    def onset(self, position):
        return float(self._onsets[position])

    def note_end(self, position, steps, length):
        """The end of a note ``length`` steps long, cut at the next onset ``steps`` away."""
        following = self._onsets[min(position + steps, self.positions)]
        return float(min(self._onsets[position] + length * self.step_seconds, following, self.seconds))

    def beat(self, position):
        return position / self.onsets_per_beat

    def metric_level(self, position):
        if position % self.onsets_per_beat:
            return "offbeat"
        return "downbeat" if (position // self.onsets_per_beat) % BEATS_PER_BAR == 0 else "beat"

    def steps(self, beats):
        """Grid steps in ``beats`` beats (None: one step)."""
        return 1 if beats is None else beats * self.onsets_per_beat


class _Harmony:
    """A key, a mode and a looping four-chord progression, one chord per bar."""

    def __init__(self, rng):
        self.root = int(rng.integers(12))
        self.scale = SCALES[_choice(rng, tuple(SCALES))]
        self.progression = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]

    def scale_pitch_classes(self):
        return {(self.root + s) % 12 for s in self.scale}

    def chord_pitch_classes(self, beat):
        degree = self.progression[int(beat // BEATS_PER_BAR) % len(self.progression)]
        return [(self.root + self.scale[(degree + k) % 7]) % 12 for k in (0, 2, 4)]


def _pitched_part(rng, family_name, channel, clock, harmony, leads):
    family = FAMILIES[family_name]
    steps = 1 if leads else clock.steps(_choice(rng, PART_STEP_BEATS))
    voices = int(rng.integers(1, family.max_voices + 1))
    velocity = int(rng.integers(*PART_VELOCITY))
    length = rng.uniform(*NOTE_LENGTH)
    choose = _bass_pitches if family_name == "bass" else (_chord_pitches if voices > 1 else _melody_pitch)
    notes, previous = [], (family.lowest + family.highest) // 2
    for position in range(0, clock.positions, steps):
        start = clock.onset(position)
        if start >= clock.seconds or _rests(rng, clock, position, keeps_the_beat=leads):
            continue
        end = clock.note_end(position, steps, length * steps)
        if end - start < MIN_NOTE_SECONDS:
            continue
        pitches = choose(rng, family, harmony, clock.beat(position), voices, previous)
        previous = pitches[-1]
        notes += [Note(start, end, p, _note_velocity(rng, velocity, clock, position)) for p in pitches]
    return Part(family_name, _choice(rng, family.programs), channel, int(rng.integers(*PART_VOLUME)), tuple(notes))


def _rests(rng, clock, position, keeps_the_beat):
    if position == 0 or (keeps_the_beat and clock.metric_level(position) != "offbeat"):
        return False
    return rng.random() < REST_PROBABILITY


def _note_velocity(rng, base, clock, position):
    accent = ACCENTS[clock.metric_level(position)]
    return int(np.clip(base + accent + rng.integers(-5, 6), 1, 127))


def _pitches_in_range(family, pitch_classes):
    return [p for p in range(family.lowest, family.highest + 1) if p % 12 in pitch_classes]


def _melody_pitch(rng, family, harmony, beat, voices, previous):
    candidates = np.array(_pitches_in_range(family, harmony.scale_pitch_classes()))
    chord = set(harmony.chord_pitch_classes(beat))
    weights = np.exp(-np.abs(candidates - previous) / 4.0) * np.where(
        np.isin(candidates % 12, list(chord)), 3.0, 1.0
    )
    return [int(rng.choice(candidates, p=weights / weights.sum()))]


def _chord_pitches(rng, family, harmony, beat, voices, previous):
    candidates = _pitches_in_range(family, set(harmony.chord_pitch_classes(beat)))
    lowest = int(rng.integers(len(candidates) - voices + 1))
    return candidates[lowest:lowest + voices]


def _bass_pitches(rng, family, harmony, beat, voices, previous):
    root, _, fifth = harmony.chord_pitch_classes(beat)
    pitch_class = fifth if rng.random() < 0.2 else root
    return [_choice(rng, _pitches_in_range(family, {pitch_class}))]


def _drum_part(rng, clock):
    velocity = int(rng.integers(*PART_VELOCITY))
    notes = []
    for position in range(clock.positions):
        start = clock.onset(position)
        if start >= clock.seconds or _rests(rng, clock, position, keeps_the_beat=True):
            continue
        end = clock.note_end(position, 1, DRUM_HIT_SECONDS / clock.step_seconds)
        if end - start < MIN_NOTE_SECONDS:
            continue
        notes += [
            Note(start, end, key, _note_velocity(rng, velocity, clock, position))
            for key in _drum_keys(position, clock)
        ]
    return Part(DRUM_FAMILY, _choice(rng, DRUM_KITS), DRUM_CHANNEL, int(rng.integers(*PART_VOLUME)), tuple(notes))


def _drum_keys(position, clock):
    """Hi-hat on every grid step, kick on beats 1 and 3, snare on 2 and 4, a crash to open."""
    keys = [CLOSED_HAT]
    if clock.metric_level(position) != "offbeat":
        keys.append(KICK if (position // clock.onsets_per_beat) % 2 == 0 else SNARE)
    return keys + ([CRASH] if position == 0 else [])


def piece_to_midi(plan):
    """A type-1 MIDI file: a tempo track, then one track per part."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo = mido.bpm2tempo(plan.bpm)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)]))
    for part in plan.parts:
        midi.tracks.append(_part_track(part, plan.bpm, plan.seconds))
    return midi


def _part_track(part, bpm, seconds):
    header = [
        mido.Message("program_change", channel=part.channel, program=part.program, time=0),
        mido.Message("control_change", channel=part.channel, control=7, value=part.volume, time=0),
    ]
    timed = []
    for note in part.notes:
        on = mido.Message("note_on", channel=part.channel, note=note.pitch, velocity=note.velocity)
        off = mido.Message("note_off", channel=part.channel, note=note.pitch, velocity=0)
        start = _ticks(note.start, bpm)
        timed += [(start, 1, on), (max(_ticks(note.end, bpm), start + 1), 0, off)]
    # fluidsynth renders until every voice has died away: a stuck note (a note_off sorted before
    # its own note_on) on a looping sample would render forever. Silence all at the clip's end.
    silence = mido.Message("control_change", channel=part.channel, control=ALL_SOUND_OFF, value=0)
    timed.append((_ticks(seconds, bpm), 2, silence))
    # At equal ticks note_off sorts first (key 0), so a repeated pitch is not cut by its own end.
    timed.sort(key=lambda event: event[:2])
    track, now = mido.MidiTrack(header), 0
    for tick, _, message in timed:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def _ticks(seconds, bpm):
    return int(round(seconds * bpm / 60.0 * TICKS_PER_BEAT))
