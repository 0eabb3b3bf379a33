"""The original musicnn tagging pipeline, as a whole process, for ``benchmarks.tagging``.

    python -m benchmarks.original_musicnn FILE... > tags.jsonl

musicnn 0.1.0's extractor: ``librosa.load`` at 16 kHz, librosa's mel spectrogram (n_fft 512,
hop 256, 96 bands), log10(10000 x + 1), non-overlapping 187-frame patches, the MTT_musicnn TF1
graph (``pretrained.reference.ReferenceGraph``, the graph the anchor row times), the mean
over patches. One JSON line per file: its top 5 tags.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PATCH_FRAMES = 187


def _patches(path):
    import librosa
    import numpy as np

    audio, _ = librosa.load(path, sr=16000)
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    log_mel = np.log10(10000 * mel + 1).astype(np.float32)
    if len(log_mel) < PATCH_FRAMES:
        log_mel = np.pad(log_mel, ((0, PATCH_FRAMES - len(log_mel)), (0, 0)))
    count = len(log_mel) // PATCH_FRAMES
    return log_mel[: count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, -1)


def main(files):
    import numpy as np

    from pretrained.reference import ReferenceGraph
    from pretrained.tags import MTT_TAGS

    graph = ReferenceGraph("MTT_musicnn")
    for path in files:
        scores = graph.predict(_patches(path)).mean(axis=0)
        top = np.argsort(-scores)[:5]
        print(json.dumps({"file": path, "tags": [{"tag": MTT_TAGS[i], "score": float(scores[i])} for i in top]}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
