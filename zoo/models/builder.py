"""Builds a zoo model: input stage -> front-end -> back-end -> tagging head; or loads a saved one."""
import os
from collections import Counter

import keras
from keras import layers

from zoo.arguments import positive_int, positive_number
from zoo.models import registry
from zoo.models.head import TaggedSigmoid
from zoo.models.input_stage import LogMelConfig, log_mel, waveform_to_frames
from zoo.models.length_guard import MinimumLength
from zoo.models.model_files import ModelFileError, is_model_path, model_file, split_model_name

__all__ = ["create_model", "input_samples", "load", "load_model_file", "HEAD_DROPOUT"]

DEFAULT_NUM_CLASSES = 50  # MagnaTagATune's top-50 vocabulary, the field's usual head
HEAD_DROPOUT = 0.5  # musicnn (both models) drops out half the embedding before the output layer
_LOG_MEL_PARAMETERS = tuple(
    f for f in LogMelConfig.__dataclass_fields__ if f != "sample_rate"
)


def _split_overrides(model_id, front, back, overrides):
    front_params, back_params = front.parameters, back.parameters
    mel_params = _LOG_MEL_PARAMETERS if front.input_kind == registry.LOG_MEL else ()
    split = {"front": {}, "back": {}, "mel": {}}
    for key, value in overrides.items():
        if key in front_params:
            split["front"][key] = value
        elif key in back_params:
            split["back"][key] = value
        elif key in mel_params:
            split["mel"][key] = value
        else:
            valid = sorted(set(front_params) | set(back_params) | set(mel_params))
            raise registry.InvalidOverrideError(
                f"{model_id!r} has no parameter {key!r}. Its parameters: {', '.join(valid)}."
            )
    return split


def _input_length(model_id, front, input_seconds, sample_rate, guarded):
    if input_seconds is None:
        return None
    positive_number(input_seconds, "input_seconds", unit="seconds", or_none=True)
    n_samples = int(round(input_seconds * sample_rate))
    if guarded and n_samples < front.min_samples:
        raise ValueError(
            f"input_seconds={input_seconds!r} is too short for {model_id!r}: {n_samples} samples at "
            f"{sample_rate} Hz, and its front-end {front.name!r} needs at least {front.min_samples} "
            f"({front.min_samples / sample_rate:.4g} s)."
        )
    return n_samples


def input_samples(name, input_seconds, sample_rate=16000, **overrides):
    """Waveform samples of a model built with ``input_seconds`` (None: any length); the same
    checks as ``create_model`` (positive, at or above the front-end's minimum), without building it."""
    model_id, front, back = registry.resolve(name)
    split = _split_overrides(model_id, front, back, overrides)
    return _input_length(model_id, front, input_seconds, sample_rate, _guarded(split))


def _guarded(split):
    # The registered minimum lengths hold for the default front-end and log-mel settings.
    return not split["front"] and not split["mel"]


def _check_tag_names(tag_names):
    repeated = sorted(name for name, count in Counter(map(str, tag_names)).items() if count > 1)
    if repeated:
        raise ValueError(f"tag_names must be distinct; repeated: {', '.join(map(repr, repeated))}")


def _check_sample_rate(model_id, entry, sample_rate):
    if entry.sample_rate is not None and sample_rate != entry.sample_rate:
        raise ValueError(
            f"weights {entry.name!r} of {model_id!r} were trained on {entry.sample_rate} Hz audio; "
            f"sample_rate={sample_rate!r} would put them under another input stage. Resample the audio to "
            f"{entry.sample_rate} Hz instead (zoo.load_audio, zoo.tag and zoo-tag do it for you)."
        )


def _needs_new_head(entry, num_classes, tag_names):
    """True when the caller asks for other tags than the pretrained head's."""
    if tag_names is not None:
        return list(tag_names) != list(entry.tag_names)
    return num_classes is not None and num_classes != entry.num_classes


def _model_input(model_id, front, mel_config, n_samples, input_stage, guarded):
    """(keras Input, tensor the front-end consumes)."""
    if input_stage:
        waveform = keras.Input(shape=(n_samples,), dtype="float32", name="waveform")
        if n_samples is None and guarded:  # length-agnostic: a too-short call is named, not crashed on
            waveform_checked = MinimumLength(front.min_samples, mel_config.sample_rate, model_id,
                                             name="input_min_length")(waveform)
        else:
            waveform_checked = waveform
        if front.input_kind == registry.LOG_MEL:
            return waveform, log_mel(waveform_checked, mel_config)
        return waveform, waveform_checked
    if front.input_kind != registry.LOG_MEL:
        raise ValueError(f"input_stage=False applies to log-mel front-ends; {front.name!r} takes waveform.")
    frames = None if n_samples is None else waveform_to_frames(n_samples, mel_config)
    spectrogram = keras.Input(shape=(frames, mel_config.n_mels), dtype="float32", name="log_mel")
    return spectrogram, spectrogram


def create_model(
    name,
    *,
    weights=None,
    num_classes=None,
    sample_rate=16000,
    input_seconds=3.0,
    include_top=True,
    tag_names=None,
    input_stage=True,
    **overrides,
):
    """Build a zoo model as a functional ``keras.Model``.

    Args:
        name: model id ``<back-end>-<front-end>`` (see ``list_models()``) or an alias.
        weights: None (random init) or the name of registered weights (``zoo.list_weights()``).
            With ``num_classes`` / ``tag_names`` other than the pretrained ones, every layer
            but the head is pretrained and the head is new (fine-tuning).
        num_classes: number of tags (sigmoid outputs); default 50, or the pretrained head's,
            or ``len(tag_names)``.
        sample_rate: waveform rate in Hz the model expects (log-mel front-ends use it).
        input_seconds: clip length; None builds a length-agnostic model (variable-length
            back-ends only).
        include_top: False returns the back-end embedding instead of tag scores.
        tag_names: names of the outputs, stored in the model (``tag_names(model)``).
        input_stage: False makes log-mel front-ends take [batch, frames, mels] directly.
        **overrides: front-end, back-end or log-mel parameters by name.
    """
    model_id, front, back = registry.resolve(name)
    if tag_names is not None:
        _check_tag_names(tag_names)
    pretrained_entry, new_head = None, False
    if weights is not None:
        from zoo.weights import resolve_weights

        pretrained_entry = resolve_weights(model_id, weights)
        _check_sample_rate(model_id, pretrained_entry, sample_rate)
        new_head = _needs_new_head(pretrained_entry, num_classes, tag_names)
        if not new_head:
            num_classes, tag_names = pretrained_entry.num_classes, list(pretrained_entry.tag_names)
        # The architecture the weights were trained with; explicit overrides still win.
        overrides = {**pretrained_entry.overrides, **overrides}
    if num_classes is None:
        num_classes = len(tag_names) if tag_names is not None else DEFAULT_NUM_CLASSES
    positive_int(num_classes, "num_classes", meaning="the number of tags")
    split = _split_overrides(model_id, front, back, overrides)
    if tag_names is not None and len(tag_names) != num_classes:
        raise ValueError(f"tag_names has {len(tag_names)} names for num_classes={num_classes}")
    guarded = _guarded(split)
    n_samples = _input_length(model_id, front, input_seconds, sample_rate, guarded)
    if back.length_policy == registry.FIXED and n_samples is None:
        raise ValueError(
            f"{model_id!r} has the fixed-length back-end {back.name!r}: input_seconds must be a "
            "number (None builds only variable-length back-ends)."
        )
    mel_config = LogMelConfig(sample_rate=sample_rate, **split["mel"])
    inputs, x = _model_input(model_id, front, mel_config, n_samples, input_stage, guarded)
    features = front.build(x, **split["front"])
    embedding = back.build(features, **split["back"])
    outputs = embedding
    if include_top:
        x = layers.Dropout(HEAD_DROPOUT, name="head_dropout")(embedding)
        x = layers.Dense(num_classes, name="head_logits")(x)
        outputs = TaggedSigmoid(tag_names, name="scores")(x)
    model = keras.Model(inputs, outputs, name=model_id.replace("-", "_"))
    if pretrained_entry is not None and new_head:
        _load_body(model, pretrained_entry, name, sample_rate, input_seconds, input_stage, overrides)
    elif pretrained_entry is not None:
        pretrained_entry.load_into(model)
    return model


def _load_body(model, entry, name, sample_rate, input_seconds, input_stage, overrides):
    """Every pretrained layer but the head into ``model`` (whose head has other tags)."""
    donor = create_model(name, weights=entry.name, sample_rate=sample_rate, input_seconds=input_seconds,
                         include_top=False, input_stage=input_stage, **overrides)
    for layer in donor.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())


def load(name, **options):
    """``create_model(name, **options)`` for a registry id or alias (``ID:WEIGHTS``, e.g.
    "vgg:msd", names its weights too); for a ``.keras`` file or a zoo-train run folder (its best
    ``model.keras``), the zoo tagging model saved there, as it is.

    A file that cannot be used is named in one line (``zoo.models.model_files.ModelFileError``).
    """
    if not is_model_path(name):
        name, weights = split_model_name(name)
        if weights is not None and options.get("weights", weights) != weights:
            raise ValueError(f"the model name {name}:{weights} names weights {weights!r}, and weights="
                             f"{options['weights']!r} others")
        return create_model(name, **{**options, **({"weights": weights} if weights else {})})
    if options:
        raise ValueError(f"zoo.load({os.fspath(name)!r}) loads the saved model as it is; "
                         f"{', '.join(sorted(options))} apply to registry ids only")
    return load_model_file(name)


def load_model_file(name):
    """The Keras model of a ``.keras`` file or run folder, after checking it is a zoo tagging model."""
    from zoo.models.keras_registration import register_layers

    described = model_file(name)
    register_layers()
    try:
        return keras.models.load_model(described.path)
    except Exception as error:  # Keras raises assorted types for a damaged or foreign archive
        reason = " ".join(str(error).split())[:300]
        raise ModelFileError(f"{described.path} could not be loaded: {type(error).__name__}: {reason}") from None
