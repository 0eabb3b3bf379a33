"""Tag (and embed) a whole music library: folders, one record per file, resumable.

``find_audio`` lists the audio files under the given files and folders in a stable order;
``tag_library`` tags them one after the other in bounded memory (zoo.audio.streaming), reading and
cutting the next chunk (or file) in a thread while the current one is scored, and hands each
record to a callback the moment it is done: ``{"file", "tags"}`` or
``{"file", "error"}`` (one bad file never stops the run); with ``timeline`` a tags record also
carries each patch's top tags, and with ``plot_dir`` each tagged file gets a taggram PNG
(``zoo.tagging.taggram_plot``) drawn from the same scores. ``done_files`` reads the files that a
JSON-lines output already holds tags for, so a rerun can skip them.
"""
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from zoo.audio.decoding import AudioError, soundfile_path
from zoo.audio.streaming import PatchChunk
from zoo.files import atomic_path

__all__ = ["AUDIO_EXTENSIONS", "LibrarySummary", "done_files", "embedding_path", "error_record", "find_audio",
           "patches_record", "plot_path", "tag_library", "tags_record"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def _is_audio(name):
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def find_audio(paths):
    """[(file, root)]: every named file, and the audio files below every named folder (recursive,
    extensions in any letter case, sorted); ``root`` is the folder it was found under, or None."""
    found = []
    for path in map(os.fspath, paths):
        if not os.path.isdir(path):
            found.append((path, None))  # a missing or odd path becomes that file's error record
            continue
        below = []
        for folder, subfolders, names in os.walk(path):
            subfolders.sort()
            below += [os.path.join(folder, name) for name in names if _is_audio(name)]
        found += [(file, path) for file in sorted(below)]
    return list(dict.fromkeys(found))


def done_files(jsonl_path):
    """Files that ``jsonl_path`` holds a tags record for. A last line cut by a kill is removed
    from the file (so appending continues on a clean line); failed files are not "done"."""
    if not os.path.exists(jsonl_path):
        return set()
    with open(jsonl_path, "rb") as handle:
        content = handle.read()
    complete = content[: content.rfind(b"\n") + 1]
    if len(complete) != len(content):
        with open(jsonl_path, "r+b") as handle:
            handle.truncate(len(complete))
    done = set()
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "tags" in record and "file" in record:
            done.add(record["file"])
    return done


def tags_record(file, tags):
    """The record of a tagged file (what zoo-tag --format jsonl and zoo.beam write)."""
    return {"file": file, "tags": [{"tag": t, "score": float(s)} for t, s in zip(tags["tag"], tags["score"])]}


def patches_record(times, scores, tag_names, patch_seconds, top_k):
    """[{"start", "end", "tags": [{"tag", "score"}, ...]}] per patch: its start and end (s) and its
    own ``top_k`` tags (None: all), best first (what zoo-tag --format timeline writes).

        >>> patches_record([0.0], [[0.2, 0.7]], ["rock", "jazz"], 2.992, 1)
        [{'start': 0.0, 'end': 2.992, 'tags': [{'tag': 'jazz', 'score': 0.7}]}]
    """
    patches = []
    for start, row in zip(times, np.asarray(scores)):
        order = np.argsort(-row, kind="stable")[:top_k]
        patches.append({"start": float(start), "end": float(start + patch_seconds),
                        "tags": [{"tag": tag_names[i], "score": float(row[i])} for i in order]})
    return patches


def error_record(file, error):
    return {"file": file, "error": " ".join(str(error).split())}


def _relative(file, root):
    """A file's path below the folder it was found under, or its name."""
    return os.path.relpath(file, root) if root else os.path.basename(file)


def embedding_path(embeddings_dir, file, root):
    """Where a file's embeddings go: its path below its folder (or its name), plus ``.npz``."""
    return os.path.join(embeddings_dir, _relative(file, root) + ".npz")


def plot_path(plot_dir, file, root):
    """Where a file's taggram picture goes: its path below its folder (or its name), plus ``.png``.

        >>> plot_path("pictures", "/music/rock/song.mp3", "/music")
        'pictures/rock/song.mp3.png'
    """
    return os.path.join(plot_dir, _relative(file, root) + ".png")


def _save_npz_atomically(path, arrays):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)  # a handle, so that numpy does not append ".npz" to the name


@dataclass
class LibrarySummary:
    tagged: int = 0
    failed: int = 0
    skipped: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    failures: list = field(default_factory=list)

    @property
    def real_time_factor(self):
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def line(self):
        return (f"tagged {self.tagged}, failed {self.failed}, skipped {self.skipped} (already done); "
                f"{self.audio_seconds / 3600:.3f} h of audio in {self.wall_seconds:.1f} s "
                f"({self.real_time_factor:.1f}x real time)")


@dataclass(frozen=True)
class _Done:
    seconds: float  # the file's duration


def _duration(file):
    import soundfile as sf

    return float(sf.info(soundfile_path(file)).duration)


def _produce(analyser, todo, slots):
    """Producer thread: every file's patch chunks, in order, then _DONE or its error, into
    ``slots`` (bounded, so the producer runs at most a few chunks ahead of the scoring)."""
    for index, (file, _) in enumerate(todo):
        try:
            for chunk in analyser.chunks(file):
                slots.put((index, chunk))
            slots.put((index, _Done(_duration(file))))
        except AudioError as error:
            slots.put((index, str(error)))
        except Exception as error:  # noqa: BLE001 - one bad file never stops the run
            slots.put((index, f"{type(error).__name__}: {error}"))


class _Batcher:
    """Scores the chunks of consecutive files together, so that short files (a patch or two
    each) still reach the model in full batches; hands back each file's outputs in order."""

    def __init__(self, analyser, batch_patches, max_waiting_files):
        self.analyser, self.batch_patches, self.max_waiting_files = analyser, batch_patches, max_waiting_files
        self.pending = []  # (file index, PatchChunk) not scored yet
        self.scored = {}  # file index -> [(outputs, times)]
        self.finished = []  # (file index, _Done or error line), in file order, awaiting their scores

    def add_chunk(self, index, chunk):
        self.pending.append((index, chunk))
        self.scored.setdefault(index, [])
        if sum(len(c.patches) for _, c in self.pending) >= self.batch_patches:
            self._flush()

    def finish(self, index, outcome):
        self.finished.append((index, outcome))
        if len(self.finished) >= self.max_waiting_files:
            self._flush()

    def ready(self, final=False):
        """(index, outcome, scored chunks) of the finished files whose chunks are all scored."""
        if final:
            self._flush()
        waiting = {i for i, _ in self.pending}
        done = []
        while self.finished and self.finished[0][0] not in waiting:
            index, outcome = self.finished.pop(0)
            done.append((index, outcome, self.scored.pop(index, [])))
        return done

    def _flush(self):
        if not self.pending:
            return
        merged = PatchChunk(np.concatenate([c.patches for _, c in self.pending]),
                            np.concatenate([c.start_frames for _, c in self.pending]))
        outputs, _ = self.analyser.score(merged)
        start = 0
        for index, chunk in self.pending:
            end = start + len(chunk.patches)
            self.scored[index].append(({name: values[start:end] for name, values in outputs.items()}, chunk.times))
            start = end
        self.pending = []


def _results(analyser, todo, depth=4, batch_patches=32, max_waiting_files=8):
    """(index, (tags, arrays) or None, error or None, audio seconds) per file of ``todo``, in order.

    Decoding and the log-mel run ahead in a thread (libsndfile, soxr and TensorFlow release the
    GIL) while the model scores; chunks of consecutive files are scored together in batches of
    ``batch_patches`` (a file's record waits for at most ``max_waiting_files`` files).
    """
    slots = queue.Queue(maxsize=depth)
    producer = threading.Thread(target=_produce, args=(analyser, todo, slots), daemon=True)
    producer.start()
    batcher, finished = _Batcher(analyser, batch_patches, max_waiting_files), 0
    while finished < len(todo):
        index, item = slots.get()
        if isinstance(item, PatchChunk):
            batcher.add_chunk(index, item)
            continue
        batcher.finish(index, item)
        finished += 1
        yield from _outcomes(analyser, batcher.ready(final=finished == len(todo) or slots.empty()))
    producer.join()


def _outcomes(analyser, ready):
    for index, outcome, scored in ready:
        if isinstance(outcome, _Done):
            yield index, analyser.result(scored), None, outcome.seconds
        else:
            yield index, None, outcome, 0.0


class _Pictures:
    """Taggram PNGs under ``plot_dir``, mirroring the folders, drawn from the analyser's scores."""

    def __init__(self, plot_dir, analyser, label):
        self.plot_dir, self.analyser, self.label = plot_dir, analyser, label

    def done(self, file, root):
        return os.path.exists(plot_path(self.plot_dir, file, root))

    def save(self, file, root, arrays):
        import pandas as pd

        from zoo.tagging.taggram_plot import save_figure, taggram_figure

        frame = pd.DataFrame(arrays["taggram"], index=pd.Index(arrays["time"], name="time"),
                             columns=self.analyser.tag_names)
        figure = taggram_figure(frame, top=self.analyser.top_k, by=self.analyser.aggregate,
                                patch_seconds=self.analyser.patch_seconds,
                                title=f"{_relative(file, root)}  ({self.label})")
        save_figure(figure, plot_path(self.plot_dir, file, root))


def _model_label(analyser, model, weights):
    """How a picture names the model: a model file's (or run folder's) name, else id and weights."""
    from zoo.models.model_files import is_model_path

    if is_model_path(model):
        return os.path.basename(os.path.normpath(os.fspath(model)))
    return f"{analyser.model_id}, {weights}"


def tag_library(files, on_record, *, model, weights, top_k=5, embeddings=(), embeddings_dir=None,
                skip=frozenset(), progress=None, runtime="keras", plot_dir=None, timeline=False):
    """Tag every (file, root) of ``files`` not in ``skip``; ``on_record(record)`` per file.

    ``plot_dir``: a taggram PNG per tagged file there (``plot_path``: the folders mirrored), of its
    ``top_k`` tags; ``timeline``: each tags record also carries ``"patches"`` (``patches_record``).
    Both come from the scores the tags do: every patch is scored once. A file in ``skip`` is done
    again when its ``.npz`` or ``.png`` is missing. ``progress(summary)`` is called after every
    file. Returns the ``LibrarySummary``.
    """
    from zoo.tagging.analyser import Analyser

    per_patch = {"taggram"} if plot_dir or timeline else set()
    analyser = Analyser(model, weights=weights, top_k=top_k, embeddings=set(embeddings) | per_patch, runtime=runtime)
    pictures = _Pictures(plot_dir, analyser, _model_label(analyser, model, weights)) if plot_dir else None
    saved = set(embeddings) | {"time"}  # the .npz holds what was asked for, not the scores the picture needs
    summary, start = LibrarySummary(), time.perf_counter()
    todo = []
    for file, root in files:
        if (file in skip and (not embeddings or os.path.exists(embedding_path(embeddings_dir, file, root)))
                and (pictures is None or pictures.done(file, root))):
            summary.skipped += 1
        else:
            todo.append((file, root))
    for index, result, error, seconds in _results(analyser, todo):
        file, root = todo[index]
        if error is None:
            try:
                tags, arrays = result
                if embeddings:
                    _save_npz_atomically(embedding_path(embeddings_dir, file, root),
                                         {name: array for name, array in arrays.items() if name in saved})
                if pictures is not None:
                    pictures.save(file, root, arrays)
            except Exception as failure:  # noqa: BLE001 - one bad file never stops the run
                error = f"{type(failure).__name__}: {failure}"
        if error is None:
            summary.tagged += 1
            summary.audio_seconds += seconds
            record = tags_record(file, tags)
            if timeline:
                record["patches"] = patches_record(arrays["time"], arrays["taggram"], analyser.tag_names,
                                                   analyser.patch_seconds, top_k)
        else:
            summary.failed += 1
            summary.failures.append(file)
            record = error_record(file, error)
        summary.wall_seconds = time.perf_counter() - start
        on_record(record)
        if progress is not None:
            progress(summary)
    summary.wall_seconds = time.perf_counter() - start
    return summary
