"""Taggram pictures: a clip's top tags against time, scores as colour, the log-mel above.

musicnn's users know its models through this picture (tags over time, as in musicnn's notebooks).
``plot_taggram`` takes a file, an array or a taggram DataFrame (``zoo.taggram``) and returns a
matplotlib ``Figure`` drawn without pyplot (no window, no global state: Agg renders it, so it
works on a server and in threads); ``save_figure`` writes it as a PNG atomically, ``png_bytes``
gives its bytes. matplotlib is imported on first use, never by ``import zoo``.

    >>> import zoo
    >>> figure = zoo.plot_taggram("song.mp3", top=8)          # musicnn, MagnaTagATune tags
    >>> figure.savefig("song.png")                             # or zoo.tagging.taggram_plot.save_figure
"""
import io
import os

import numpy as np

from zoo.arguments import positive_int
from zoo.audio.decoding import DEFAULT_RATE, load_audio
from zoo.files import atomic_path
from zoo.models.log_mel_config import LogMelConfig
from zoo.tagging.analyser import AGGREGATES, DEFAULT_MODEL, DEFAULT_WEIGHTS, Analyser

__all__ = ["DEFAULT_TOP", "plot_taggram", "png_bytes", "save_figure", "taggram_figure"]

DEFAULT_TOP = 10
_MEL = LogMelConfig(sample_rate=DEFAULT_RATE)
_FRAME_SECONDS = _MEL.hop_length / _MEL.sample_rate
# Spectrogram columns kept for drawing: a long clip's frames are averaged in groups down to this,
# which no screen or PNG of the figure's width resolves anyway.
_MAX_COLUMNS = 3000
_WIDTH_INCHES, _DPI = 10.0, 100


def _check_options(top, by):
    if by not in AGGREGATES:
        raise ValueError(f"by must be one of {', '.join(AGGREGATES)}, got {by!r}")
    positive_int(top, "top", or_none=True)


def _checked_taggram(taggram):
    """(times [patches], scores [patches, tags], tag names) of a taggram DataFrame."""
    import pandas as pd

    if not isinstance(taggram, pd.DataFrame):
        raise TypeError(f"a taggram is a DataFrame of scores (time x tag), as zoo.taggram returns; got "
                        f"{type(taggram).__name__}")
    if taggram.empty:
        raise ValueError("the taggram is empty: no patch was scored")
    try:
        scores = taggram.to_numpy(dtype=np.float32)
        times = np.asarray(taggram.index, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"a taggram holds numbers: patch start times (s) as its index, scores as its columns "
                         f"({' '.join(str(error).split())})") from None
    if not np.all(np.isfinite(scores)) or not np.all(np.isfinite(times)):
        raise ValueError("the taggram holds NaN or infinite values")
    return times, scores, [str(name) for name in taggram.columns]


def _time_edges(times, patch_seconds):
    """Where each patch's column begins and ends: at the next patch's start, the last one a step
    (or a patch) after its own."""
    if len(times) > 1:
        step = float(np.median(np.diff(times)))
    else:
        step = patch_seconds if patch_seconds else 187 * _FRAME_SECONDS  # musicnn's 3 s patch
    if patch_seconds:
        step = min(step, patch_seconds)
    return np.append(times, times[-1] + step)


def _log_mel(waveform):
    """([mels, columns] log-mel of a 16 kHz waveform, averaged down to at most _MAX_COLUMNS
    columns, seconds it spans)."""
    from zoo.audio.log_mel import log_mel_frames

    frames = log_mel_frames(waveform, _MEL)
    group = max(1, -(-len(frames) // _MAX_COLUMNS))
    if group > 1:
        usable = len(frames) // group * group
        frames = frames[:usable].reshape(-1, group, frames.shape[1]).mean(axis=1)
    return frames.T, len(waveform) / _MEL.sample_rate


def taggram_figure(taggram, *, top=DEFAULT_TOP, by="mean", waveform=None, patch_seconds=None, title=None):
    """Draw a taggram: a matplotlib ``Figure`` (Agg), the ``top`` tags ranked ``by`` their mean or
    maximum score, best on top, against time in seconds, with a colour bar.

    Args:
        taggram: DataFrame of per-patch scores indexed by patch start ``time`` (s), one column per
            tag (``zoo.taggram``).
        top: how many tags to show (None: all).
        by: "mean" or "max": how a tag's scores over time rank it.
        waveform: the clip at 16 kHz, mono; its log-mel is drawn above on the same time axis.
        patch_seconds: seconds one patch covers (``Analyser.patch_seconds``); None: the spacing of
            the patch start times.
        title: the figure's title.

    Example:
        >>> figure = taggram_figure(zoo.taggram("song.mp3"), top=5, by="max")
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _check_options(top, by)
    times, scores, names = _checked_taggram(taggram)
    order = np.argsort(-AGGREGATES[by](scores, axis=0), kind="stable")[:top]
    shown, labels = scores[:, order].T, [names[i] for i in order]
    edges = _time_edges(times, patch_seconds)
    end = float(edges[-1])
    rows = len(labels)
    taggram_inches = 0.9 + 0.28 * rows
    spectrogram_inches = 1.9 if waveform is not None else 0.0
    figure = Figure(figsize=(_WIDTH_INCHES, taggram_inches + spectrogram_inches + (0.5 if title else 0.2)),
                    dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    if waveform is not None:
        mel_axes, axes = figure.subplots(2, 1, sharex=True, height_ratios=[spectrogram_inches, taggram_inches])
        mel, seconds = _log_mel(waveform)
        end = max(end, seconds)
        image = mel_axes.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, len(mel)),
                                interpolation="nearest")
        mel_axes.set_ylabel("mel bands")
        mel_axes.set_yticks([0, len(mel)])
        mel_axes.set_yticklabels([f"{_MEL.f_min:g} Hz", f"{_MEL.top_frequency / 1000:g} kHz"])
        mel_axes.set_title("log-mel spectrogram (the model's input)", fontsize=10, loc="left")
        figure.colorbar(image, ax=mel_axes, label="log10(1+10⁴·mel)", pad=0.01, fraction=0.03)
    else:
        axes = figure.subplots(1, 1)
    mesh = axes.pcolormesh(edges, np.arange(rows + 1) - 0.5, shown, cmap="viridis", vmin=0.0,
                           vmax=max(float(shown.max()), 1e-6), shading="flat")
    axes.set_ylim(rows - 0.5, -0.5)  # the best tag on top
    axes.set_yticks(np.arange(rows))
    axes.set_yticklabels(labels, fontsize=10)
    axes.set_xlim(0, end)
    axes.set_xlabel("time (s)")
    axes.set_title(f"top {rows} tags by {by} score, per {edges[1] - edges[0]:.2g} s patch", fontsize=10, loc="left")
    figure.colorbar(mesh, ax=axes, label="score", pad=0.01, fraction=0.03)
    if title:
        figure.suptitle(title, fontsize=12)
    return figure


def plot_taggram(audio, model=DEFAULT_MODEL, *, weights=DEFAULT_WEIGHTS, sample_rate=None, top=DEFAULT_TOP, by="mean",
                 spectrogram=None, title=None, patch_seconds=None, hop_seconds=None, runtime="keras"):
    """A taggram picture of a clip: a matplotlib ``Figure`` (Agg, headless) of its top tags over
    time, scores as colour with a colour bar, optionally its log-mel above on the same time axis.

    Args:
        audio: path of a wav/flac/ogg/mp3 file, an array (see ``zoo.audio.load_audio``), or a
            taggram DataFrame that ``zoo.taggram`` returned (then model and weights are not used).
        model: model id or alias with registered weights (``zoo.list_weights()``), or a ``.keras``
            file or zoo-train run folder, as for ``zoo.tag``.
        weights: pretrained weights name, e.g. "mtt" or "msd"; a model file carries its own.
        sample_rate: rate of an array input in Hz (None: already 16 kHz).
        top: how many tags to show (None: all of the model's tags).
        by: "mean" or "max": how a tag's scores over time rank it.
        spectrogram: draw the log-mel spectrogram above the taggram. None: when audio is given
            (a file or array), not for a DataFrame, which carries no audio.
        title: the figure's title; None: the file's name (for a file), else none.
        patch_seconds, hop_seconds, runtime: as for ``zoo.tag``.

    Example:
        >>> import zoo
        >>> zoo.plot_taggram("song.mp3", top=8, by="max").savefig("song.png")
        >>> zoo.plot_taggram(zoo.taggram("song.mp3", model="vgg", weights="msd"), top=5)
    """
    import pandas as pd

    _check_options(top, by)
    if isinstance(audio, pd.DataFrame):
        if spectrogram:
            raise ValueError("spectrogram=True needs the audio: pass the file or array, not its taggram")
        return taggram_figure(audio, top=top, by=by, title=title)
    waveform = load_audio(audio, sample_rate) if spectrogram is not False else None
    analyser = Analyser(model, weights=weights, top_k=None, embeddings=("taggram",), patch_seconds=patch_seconds,
                        hop_seconds=hop_seconds, runtime=runtime)
    # Decoded once: the waveform (16 kHz) feeds both the taggram and the spectrogram.
    _, arrays = analyser(audio, sample_rate) if waveform is None else analyser(waveform)
    frame = pd.DataFrame(arrays["taggram"], index=pd.Index(arrays["time"], name="time"), columns=analyser.tag_names)
    if title is None and isinstance(audio, (str, os.PathLike)):
        title = os.path.basename(os.fspath(audio))
    return taggram_figure(frame, top=top, by=by, waveform=waveform, patch_seconds=analyser.patch_seconds, title=title)


def png_bytes(figure):
    """The figure as PNG bytes (what the demo page shows).

    Example:
        >>> png_bytes(zoo.plot_taggram("song.mp3"))[:4]
        b'\x89PNG'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_figure(figure, path):
    """Write ``figure`` to ``path`` as a PNG, whole or not at all (``zoo.files.atomic_path``);
    missing folders are made. Returns ``path``.

    Example:
        >>> save_figure(zoo.plot_taggram("song.mp3"), "pictures/song.png")
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        figure.savefig(handle, format="png")
    return path
