"""The shipped ``mtt-distilled`` weights: present, intact, registered, scoring as published, at every entry point."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from tolerances import CROSS_CPU_SCORES

import zoo
from pretrained.distillation.model_cards import PAGE, page
from pretrained.distillation.publish import FLOAT16_TOLERANCE, check_signal
from pretrained.mtt_distilled import (
    CARDS,
    WEIGHTS_NAME,
    ShippedWeightsError,
    read_cards,
    weights_entries,
    weights_path,
)
from pretrained.tags import MTT_TAGS
from zoo.files import file_sha256

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The 12: the front-end axis on musicnn's back-end, the back-end axis on musicnn's front-end.
REQUIRED = [f"musicnn-{front}" for front in ("frame-single", "frame-many", "sample-level", "vertical", "horizontal",
                                             "small-rectangular")] + \
           [f"{back}-vertical-horizontal" for back in ("dense", "fcn", "maxpool", "avgpool", "attention", "rnn")]
MAX_TOTAL_BYTES = 60e6
CARDS_ON_DISK = read_cards()
# One student per axis goes through the slower entry points.
AXES = ["maxpool-vertical-horizontal", "musicnn-sample-level"]


def test_every_required_student_is_published_and_listed():
    listed = zoo.list_weights()
    distilled = listed[listed.weights == WEIGHTS_NAME]
    assert set(REQUIRED) <= set(distilled.model), sorted(set(REQUIRED) - set(distilled.model))
    assert set(distilled.model) == set(CARDS_ON_DISK)
    for row in distilled.itertuples():
        card = CARDS_ON_DISK[row.model]
        assert row.tags == 50 and row.sample_rate == 16000
        assert "musicnn:mtt" in row.trained_on and "h of free game music from Debian" in row.trained_on
        assert "GPL-2+" in row.licence and "ISC" in row.licence
        assert row.top5_overlap == card["agreement"]["top5_overlap"]
        assert row.micro_roc_auc_top5 == card["agreement"]["micro_roc_auc_top5"]


def test_files_are_intact_compact_and_small():
    total = 0
    for model_id, card in CARDS_ON_DISK.items():
        path = weights_path(model_id)
        assert file_sha256(path) == card["sha256"] and os.path.getsize(path) == card["bytes"], model_id
        assert card["float16_max_abs_diff"] <= FLOAT16_TOLERANCE, model_id
        total += card["bytes"]
    assert total <= MAX_TOTAL_BYTES, total


def test_cards_hold_the_figures_the_page_shows():
    for model_id, card in CARDS_ON_DISK.items():
        agreement = card["agreement"]
        assert agreement["held_out_patches"] > 1000 and card["held_out"] == ["singularity-music"], model_id
        assert 0.5 < agreement["constant_top5_overlap"] < agreement["top5_overlap"] <= 1, model_id
        assert card["training_seconds"] > 0 and card["recipe"]["epochs"] >= 1, model_id
    with open(PAGE) as handle:
        assert handle.read() == page(), "docs/mtt-distilled.md is stale: run `python -m pretrained cards`"


@pytest.mark.parametrize("model_id", sorted(CARDS_ON_DISK))
def test_each_student_loads_offline_and_scores_as_published(model_id):
    model = zoo.load(f"{model_id}:{WEIGHTS_NAME}")
    assert zoo.tag_names(model) == list(MTT_TAGS)
    scores = model.predict(check_signal()[None], verbose=0)[0]
    np.testing.assert_allclose(scores, CARDS_ON_DISK[model_id]["check_scores"], atol=CROSS_CPU_SCORES)


def test_a_damaged_or_missing_file_is_named_in_one_line(tmp_path):
    model_id = AXES[0]
    shutil.copy(CARDS, tmp_path / CARDS.name)
    shutil.copy(weights_path(model_id), tmp_path)
    path = weights_path(model_id, tmp_path)
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        flipped = bytes(255 - byte for byte in handle.read(64))
        handle.seek(os.path.getsize(path) // 2)
        handle.write(flipped)
    entry = next(e for e in weights_entries(tmp_path) if e.model_id == model_id)
    with pytest.raises(ShippedWeightsError, match=r"is damaged .*restore it") as error:
        entry.load_into(zoo.load(model_id))
    assert "\n" not in str(error.value)
    os.remove(path)
    with pytest.raises(ShippedWeightsError, match="is missing: reinstall"):
        entry.load_into(zoo.load(model_id))


@pytest.mark.parametrize("model_id", AXES)
def test_tagging_entry_points_take_the_name(model_id, tmp_path):
    name = f"{model_id}:{WEIGHTS_NAME}"
    clip = tmp_path / "clip.wav"
    import soundfile as sf

    sf.write(clip, np.tile(check_signal(), 3), 16000)
    tags = zoo.tag(str(clip), model=name)
    assert len(tags) and set(tags.tag) <= set(MTT_TAGS)
    assert zoo.taggram(str(clip), model=name).shape == (3, 50)
    assert zoo.embeddings(str(clip), model=name)["frames"].ndim == 3
    out = tmp_path / "tags.csv"
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "zoo-tag"), str(clip), "--model", name,
                          "--format", "csv", "--output", str(out)], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert out.read_text().count("\n") > 1


def test_a_fixed_length_student_is_tagged_on_the_patches_it_was_trained_on(tmp_path):
    import soundfile as sf

    model_id = "dense-vertical-horizontal"  # flattens its whole input: its weights fit 3 s only
    assert CARDS_ON_DISK[model_id]["input_samples"] == 48000
    sf.write(tmp_path / "clip.wav", np.tile(check_signal(), 2), 16000)
    taggram = zoo.taggram(str(tmp_path / "clip.wav"), model=f"{model_id}:{WEIGHTS_NAME}")
    assert len(taggram) == 2 and taggram.index[1] == pytest.approx(48128 / 16000)  # 188 frames of 256
    # the clip's log-mel cut into patches, against the model's own of the first 3 s alone
    np.testing.assert_allclose(taggram.iloc[0], CARDS_ON_DISK[model_id]["check_scores"], atol=0.05)
    with pytest.raises(ValueError, match="takes patches of 48000 samples"):
        zoo.taggram(str(tmp_path / "clip.wav"), model=f"{model_id}:{WEIGHTS_NAME}", patch_seconds=2.0)


def test_hear_api_takes_the_name():
    import zoo.hear

    model = zoo.hear.load_model(f"{AXES[1]}:{WEIGHTS_NAME}")
    audio = np.tile(check_signal(), 2)[None]
    import tensorflow as tf

    embedding = zoo.hear.get_scene_embeddings(tf.constant(audio), model)
    assert embedding.shape[0] == 1 and embedding.shape[1] == model.scene_embedding_size


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_score_as_published(backend):
    script = (
        "import json, zoo\n"
        "from pretrained.distillation.publish import check_signal\n"
        "from pretrained.mtt_distilled import read_cards\n"
        "import numpy as np\n"
        "cards = read_cards()\n"
        "print(json.dumps({m: float(np.abs(zoo.load(m + ':mtt-distilled').predict(check_signal()[None], verbose=0)[0]"
        " - c['check_scores']).max()) for m, c in cards.items()}))\n")
    environment = {**os.environ, "KERAS_BACKEND": backend}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=environment,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    differences = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(differences) == set(CARDS_ON_DISK)
    assert max(differences.values()) <= CROSS_CPU_SCORES, differences


def test_export_serves_what_zoo_tag_gives(tmp_path):
    import soundfile as sf
    import tensorflow as tf

    model_id = AXES[0]
    run = subprocess.run([sys.executable, "-m", "export", f"--model={model_id}:{WEIGHTS_NAME}",
                          f"--base_path={tmp_path}", "--skip_op_check", "--no_warmup"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    served = tf.saved_model.load(str(tmp_path / model_id / "1")).signatures["serving_default"]
    audio = np.tile(check_signal(), 2)
    outputs = served(**{next(iter(served.structured_input_signature[1])): tf.constant(audio[None])})
    sf.write(tmp_path / "clip.wav", audio, 16000)
    tags = zoo.tag(str(tmp_path / "clip.wav"), model=f"{model_id}:{WEIGHTS_NAME}", top_k=None).set_index("tag")
    np.testing.assert_allclose(outputs["scores"].numpy()[0], tags.loc[list(MTT_TAGS), "score"],
                               atol=CROSS_CPU_SCORES)


def test_beam_takes_the_name(tmp_path):
    pytest.importorskip("apache_beam")
    import soundfile as sf

    from zoo.tagging.beam import main as beam_main

    sf.write(tmp_path / "clip.wav", np.tile(check_signal(), 2), 16000)
    out = tmp_path / "beam" / "tags"
    assert beam_main(["--input", str(tmp_path / "clip.wav"), "--output", str(out), "--runner=DirectRunner",
                      "--model", f"{AXES[0]}:{WEIGHTS_NAME}"]) == 0
    records = [json.loads(line) for shard in (tmp_path / "beam").glob("tags-*.jsonl")
               for line in shard.read_text().splitlines()]
    assert len(records) == 1 and {t["tag"] for t in records[0]["tags"]} <= set(MTT_TAGS), records


def test_the_probe_builds_a_fixed_length_student_at_its_training_length():
    from benchmarks.probe.models import _pretrained_network

    network, _ = _pretrained_network(f"dense-vertical-horizontal:{WEIGHTS_NAME}")
    assert network.input_shape[1:] == (CARDS_ON_DISK["dense-vertical-horizontal"]["input_samples"],)
