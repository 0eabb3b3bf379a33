"""Checks of one Keras backend, run by tests/test_backends.py in a process of its own
(``KERAS_BACKEND=jax python tests/backend_checks.py WORKDIR``): the backend is fixed at import.

WORKDIR holds what the TensorFlow side wrote (references.npz, tf.weights.h5, music.wav); this
script writes ``<backend>.weights.h5``, ``<backend>_outputs.npz`` and prints one JSON line per check:
{"check": name, ...measured values}. The test module judges them.
"""
import json
import os
import sys
import traceback

import keras
import numpy as np

import zoo

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "saved_models")
SAVED = {"musicnn-finetuned": "3s", "maxpool-vertical": "3s", "attention-frame-many": "2.2s"}
# Shared with test_backends.py: the model whose weights files and train step cross backends.
CROSS_MODEL, CROSS_SECONDS, CROSS_TAGS, CROSS_BATCH = "maxpool-vertical", 1.0, 5, 4


def cross_model():
    return zoo.load(CROSS_MODEL, input_seconds=CROSS_SECONDS, num_classes=CROSS_TAGS)


def cross_batch():
    rng = np.random.default_rng(7)
    waveforms = rng.normal(0.0, 0.1, (CROSS_BATCH, int(CROSS_SECONDS * 16000))).astype(np.float32)
    labels = (rng.uniform(size=(CROSS_BATCH, CROSS_TAGS)) > 0.5).astype(np.float32)
    return waveforms, labels


def one_train_step(model, waveforms, labels):
    """One step of the zoo trainer's backend step (SGD, no dropout: the same numbers on every
    backend); returns the weights after it."""
    from zoo.training.backend_steps import make_train_steps
    from zoo.training.recipes import resolve_recipe
    from zoo.training.strategies import make_strategy

    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    recipe = resolve_recipe("default", batch_size=len(waveforms))
    optimizer = keras.optimizers.SGD(0.5)
    optimizer.build(model.trainable_variables)
    steps = make_train_steps(model, recipe, len(waveforms), make_strategy("default"))
    steps.start_phase(optimizer)

    iterator = steps.in_memory_batches(waveforms, labels)
    steps.start_epoch()
    loss = steps.train(iterator)
    steps.end_of_steps()
    return loss, [np.asarray(w) for w in model.get_weights()]


def recalibration_errors():
    """The trainer's batch-norm recalibration through this backend's compiled forward step, over
    three batches with other statistics: max |moving statistic - mean of the batches'| (mean,
    variance), and whether momentum and dropout came back."""
    from zoo.kernels.batch_norm import BatchNormalization
    from zoo.training.backend_steps import make_train_steps
    from zoo.training.recipes import resolve_recipe
    from zoo.training.strategies import make_strategy
    from zoo.training.trainer import _recalibrate_batch_norm

    rng = np.random.default_rng(3)
    batches = [rng.normal(shift, scale, (4, 6)).astype(np.float32) for shift, scale in ((0, 1), (5, 2), (-3, 0.5))]
    inputs = keras.Input((6,))
    norm, dropout = BatchNormalization(momentum=0.9), keras.layers.Dropout(0.3)
    model = keras.Model(inputs, dropout(norm(inputs)))
    strategy = make_strategy("default")
    steps = make_train_steps(model, resolve_recipe("default", batch_size=4), 4, strategy)
    labels = np.zeros((4, 1), np.float32)
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((np.stack(batches), np.stack([labels] * 3)))
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
    else:
        iterator = iter([(batch, labels) for batch in batches])
    _recalibrate_batch_norm(model, steps.forward, iterator, len(batches))
    return {
        "mean": _max_difference(norm.moving_mean, np.mean([b.mean(axis=0) for b in batches], axis=0)),
        "variance": _max_difference(norm.moving_variance, np.mean([b.var(axis=0) for b in batches], axis=0)),
        "restored": norm.momentum == 0.9 and dropout.rate == 0.3,
    }


TOEPLITZ_CASES = ((128, "same"), (40, "valid"), (33, "same"))  # kernel height, padding


def _tall_kernel_model(conv_class, taps, padding):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((150, 5, 1))
    hidden = keras.layers.BatchNormalization()(inputs)  # trainable: the convolution's input gradient counts
    hidden = conv_class(4, (taps, 1), padding=padding)(hidden)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(hidden))


def check_toeplitz_convolution(workdir, references):
    """SingleChannelConv2D's Toeplitz route for tall one-column kernels against keras' Conv2D
    with the same weights: outputs, and one train step's updates (so the gradients)."""
    from zoo.kernels import single_channel_conv, toeplitz

    rng = np.random.default_rng(9)
    waveforms = rng.normal(0.0, 1.0, (3, 150, 5, 1)).astype(np.float32)
    labels = (rng.uniform(size=(3, 2)) > 0.5).astype(np.float32)
    calls, original = [], toeplitz.toeplitz_conv
    toeplitz.toeplitz_conv = lambda *args: calls.append(args) or original(*args)
    result = {}
    try:
        for taps, padding in TOEPLITZ_CASES:
            ours = _tall_kernel_model(single_channel_conv.Conv2D, taps, padding)
            plain = _tall_kernel_model(keras.layers.Conv2D, taps, padding)
            plain.set_weights(ours.get_weights())
            start = [np.asarray(w) for w in ours.get_weights()]
            forward = _max_difference(ours.predict(waveforms, verbose=0), plain.predict(waveforms, verbose=0))
            ours_after, plain_after = (one_train_step(ours, waveforms, labels)[1],
                                       one_train_step(plain, waveforms, labels)[1])
            updates = [(_max_difference(a - w, b - w), float(np.max(np.abs(b - w))))
                       for a, b, w in zip(ours_after, plain_after, start)]
            result[f"{taps}x1 {padding}"] = {"forward": forward, "updates": updates}
    finally:
        toeplitz.toeplitz_conv = original
    result["toeplitz_calls"] = len(calls)
    return result


def check_batch_norm_recalibration(workdir, references):
    return recalibration_errors()


def _max_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_every_model_runs(workdir, references):
    waveform = np.random.default_rng(0).normal(0.0, 0.1, (1, 48000)).astype(np.float32)
    failures = []
    models = zoo.list_models()
    for model_id in models:
        try:
            scores = keras.ops.convert_to_numpy(zoo.load(model_id, input_seconds=3.0)(waveform, training=False))
            if scores.shape != (1, 50) or not np.isfinite(scores).all():
                failures.append(f"{model_id}: {scores.shape}")
        except Exception as error:  # every model is tried; the test lists the failures
            failures.append(f"{model_id}: {type(error).__name__}: {str(error)[:200]}")
        keras.backend.clear_session()
    return {"models": len(models), "failures": failures}


def check_input_stage_and_pretrained_scores(workdir, references):
    patches = references["music_patches"]
    result = {}
    for model_id in ("musicnn", "vgg"):
        model = zoo.load(model_id, weights="mtt", input_seconds=3.0)
        log_mel = keras.Model(model.input, model.get_layer("logmel").output)
        result[f"{model_id}_log_mel"] = _max_difference(log_mel(patches), references[f"{model_id}_log_mel"])
        result[f"{model_id}_scores"] = _max_difference(model.predict(patches, verbose=0),
                                                       references[f"{model_id}_scores"])
        result[f"{model_id}_torch_module"] = _is_torch_module(model)
    return result


def _is_torch_module(model):
    if keras.config.backend() != "torch":
        return None
    import torch

    return isinstance(model, torch.nn.Module)


def check_tagging(workdir, references):
    music = os.path.join(workdir, "music.wav")
    result = {
        "tag": _max_difference(zoo.tag(music, top_k=None).sort_values("tag")["score"], references["tag"]),
        "taggram_tf_alias": _max_difference(zoo.taggram(music, runtime="tf"), references["taggram"]),
        "vgg_taggram": _max_difference(zoo.taggram(music, model="vgg"), references["vgg_taggram"]),
    }
    features = zoo.embeddings(music)
    for name in ("penultimate", "max_pool", "temporal"):  # unbounded features: relative to their largest
        reference = references[f"embeddings_{name}"]
        result[f"embeddings_{name}_relative"] = (_max_difference(features[name], reference)
                                                 / float(np.abs(reference).max()))
    return result


def check_tensorflow_saved_files(workdir, references):
    expected = np.load(os.path.join(FIXTURES, "expected.npz"))
    result = {}
    for name, input_name in SAVED.items():
        path = os.path.join(FIXTURES, f"{name}.keras")
        for how, model in (("zoo.load", zoo.load(path)), ("keras", keras.models.load_model(path))):
            scores = model.predict(expected["input_" + input_name], verbose=0)
            result[f"{name} {how}"] = _max_difference(scores, expected["output_" + name])
            result[f"{name} {how} tags"] = zoo.tag_names(model)
    return result


def check_weights_files(workdir, references):
    waveforms, labels = cross_batch()
    model = cross_model()
    model.load_weights(os.path.join(workdir, "tf.weights.h5"))
    from_tf = _max_difference(model.predict(waveforms, verbose=0), references["cross_outputs"])
    keras.utils.set_random_seed(11)
    own = cross_model()
    backend = keras.config.backend()
    own.save_weights(os.path.join(workdir, f"{backend}.weights.h5"))
    start = _loaded_cross_model(workdir)
    paths, before = [w.path for w in start.weights], [np.asarray(w) for w in start.get_weights()]
    loss, after_step = one_train_step(start, waveforms, labels)
    updates = [a - b for a, b in zip(after_step, before)]
    # Per weight: (path, max |our update - TF's|, max |TF's update|).
    step_differences = [(path, _max_difference(ours, theirs), float(np.max(np.abs(theirs))))
                        for path, ours, theirs in zip(paths, updates, references_list(references, "step_updates"))]
    np.savez(os.path.join(workdir, f"{backend}_outputs.npz"), outputs=own.predict(waveforms, verbose=0))
    return {"tf_file_outputs": from_tf, "train_step_updates": step_differences,
            "train_step_loss": abs(loss - float(references["step_loss"]))}


def _loaded_cross_model(workdir):
    model = cross_model()
    model.load_weights(os.path.join(workdir, "tf.weights.h5"))
    return model


def references_list(references, prefix):
    count = int(references[f"{prefix}_count"])
    return [references[f"{prefix}_{i}"] for i in range(count)]


CHECKS = (check_input_stage_and_pretrained_scores, check_tagging, check_tensorflow_saved_files, check_weights_files,
          check_batch_norm_recalibration, check_toeplitz_convolution, check_every_model_runs)


def main(workdir):
    references = dict(np.load(os.path.join(workdir, "references.npz")))
    print(json.dumps({"check": "backend", "backend": keras.config.backend()}), flush=True)
    for check in CHECKS:
        try:
            result = check(workdir, references)
        except Exception:  # reported to the test, which fails with it
            result = {"error": traceback.format_exc()[-3000:]}
        print(json.dumps({"check": check.__name__, **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
