"""Render MIDI files to audio with the fluidsynth command line and a General MIDI soundfont.

Debian: ``apt-get install fluidsynth fluid-soundfont-gm`` (FluidR3_GM.sf2).
"""
import os
import shutil
import subprocess

__all__ = ["SoundfontNotFoundError", "find_soundfont", "render_midi"]

_SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


class SoundfontNotFoundError(RuntimeError):
    pass


def find_soundfont():
    """A General MIDI soundfont: $ZOO_SOUNDFONT, else Debian's fluid-soundfont-gm."""
    explicit = os.environ.get("ZOO_SOUNDFONT")
    for path in ((explicit,) if explicit else _SOUNDFONT_CANDIDATES):
        if path and os.path.isfile(path):
            return path
    raise SoundfontNotFoundError(
        "No General MIDI soundfont found: install Debian's fluid-soundfont-gm "
        "(apt-get install fluidsynth fluid-soundfont-gm) or set ZOO_SOUNDFONT to an .sf2 file."
    )


def render_midi(midi_path, wav_path, sample_rate=16000, soundfont=None, gain=0.6, sample_format="s16",
                timeout=None):
    """Render ``midi_path`` to a wav at ``sample_rate`` with fluidsynth (no audio device).

    ``sample_format`` is fluidsynth's ``-O``: "s16" (default) or "float", which cannot clip
    when several loud parts add up. ``timeout`` (seconds) guards against a file that never
    ends: fluidsynth renders until every voice is silent, so a stuck note renders forever.
    """
    if shutil.which("fluidsynth") is None:
        raise SoundfontNotFoundError("fluidsynth is not installed (apt-get install fluidsynth).")
    soundfont = soundfont or find_soundfont()
    command = [
        "fluidsynth", "-ni", "-q",
        "-g", str(gain),
        "-r", str(sample_rate),
        "-F", str(wav_path),
        "-T", "wav",
        "-O", sample_format,
        soundfont, str(midi_path),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    return wav_path
