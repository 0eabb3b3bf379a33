"""Builds a zoo model: input stage -> front-end -> back-end -> tagging head."""
import keras
from keras import layers

from zoo import registry
from zoo.input_stage import LogMelConfig, log_mel, waveform_to_frames
from zoo.layers import TaggedSigmoid

__all__ = ["create_model", "load", "HEAD_DROPOUT"]

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


def _input_length(input_seconds, sample_rate):
    if input_seconds is None:
        return None
    if input_seconds <= 0:
        raise ValueError(f"input_seconds must be positive or None, got {input_seconds!r}")
    return int(round(input_seconds * sample_rate))


def _model_input(front, mel_config, n_samples, input_stage):
    """(keras Input, tensor the front-end consumes)."""
    if input_stage:
        waveform = keras.Input(shape=(n_samples,), dtype="float32", name="waveform")
        if front.input_kind == registry.LOG_MEL:
            return waveform, log_mel(waveform, mel_config)
        return waveform, waveform
    if front.input_kind != registry.LOG_MEL:
        raise ValueError(f"input_stage=False applies to log-mel front-ends; {front.name!r} takes waveform.")
    frames = None if n_samples is None else waveform_to_frames(n_samples, mel_config)
    spectrogram = keras.Input(shape=(frames, mel_config.n_mels), dtype="float32", name="log_mel")
    return spectrogram, spectrogram


def create_model(
    name,
    *,
    weights=None,
    num_classes=50,
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
        weights: None (random init) or the name of a pretrained set (see ``pretrained``).
        num_classes: number of tags (sigmoid outputs).
        sample_rate: waveform rate in Hz the model expects (log-mel front-ends use it).
        input_seconds: clip length; None builds a length-agnostic model (variable-length
            back-ends only).
        include_top: False returns the back-end embedding instead of tag scores.
        tag_names: names of the outputs, stored in the model (``tag_names(model)``).
        input_stage: False makes log-mel front-ends take [batch, frames, mels] directly.
        **overrides: front-end, back-end or log-mel parameters by name.
    """
    model_id, front, back = registry.resolve(name)
    pretrained_entry = None
    if weights is not None:
        from pretrained import resolve_weights

        pretrained_entry = resolve_weights(model_id, weights)
        num_classes, tag_names = pretrained_entry.num_classes, list(pretrained_entry.tag_names)
        # The architecture the weights were trained with; explicit overrides still win.
        overrides = {**pretrained_entry.overrides, **overrides}
    split = _split_overrides(model_id, front, back, overrides)
    if tag_names is not None and len(tag_names) != num_classes:
        raise ValueError(f"tag_names has {len(tag_names)} names for num_classes={num_classes}")
    n_samples = _input_length(input_seconds, sample_rate)
    if back.length_policy == registry.FIXED and n_samples is None:
        raise ValueError(
            f"{model_id!r} has the fixed-length back-end {back.name!r}: input_seconds must be a "
            "number (None builds only variable-length back-ends)."
        )
    mel_config = LogMelConfig(sample_rate=sample_rate, **split["mel"])
    inputs, x = _model_input(front, mel_config, n_samples, input_stage)
    features = front.build(x, **split["front"])
    embedding = back.build(features, **split["back"])
    outputs = embedding
    if include_top:
        x = layers.Dropout(HEAD_DROPOUT, name="head_dropout")(embedding)
        x = layers.Dense(num_classes, name="head_logits")(x)
        outputs = TaggedSigmoid(tag_names, name="scores")(x)
    model = keras.Model(inputs, outputs, name=model_id.replace("-", "_"))
    if pretrained_entry is not None:
        pretrained_entry.load_into(model)
    return model


load = create_model
