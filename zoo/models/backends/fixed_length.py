"""Fixed-length back-ends: dense feed-forward and fully-convolutional.

They assume the input length the model was built for (static time axis).
"""
from keras import layers

from zoo.models import blocks
from zoo.models.backends.common import static_time_steps
from zoo.models.registry import FIXED, register_back_end

__all__ = ["dense", "fcn"]


@register_back_end(
    "dense",
    length_policy=FIXED,
    summary="flatten -> optional dense hidden layers (none by default, as musicnn's VGG)",
)
def dense(features, *, hidden_units=(), dropout=0.5):
    # Default = musicnn VGG's back-end: flatten, then the shared head (dropout 0.5, Dense).
    static_time_steps(features, "dense")
    x = layers.Flatten(name="backend_flatten")(features)
    for i, units in enumerate(hidden_units):
        x = layers.Dropout(dropout, name=f"backend_dropout{i}")(x)
        x = layers.Dense(units, activation="relu", name=f"backend_dense{i}")(x)
        x = blocks.BatchNormalization(name=f"backend_bn{i}")(x)
    return x


@register_back_end(
    "fcn",
    length_policy=FIXED,
    summary="Conv1D(3)+BN+ReLU+MaxPool(2) blocks until <= 2 steps, then a full-length conv to 1x1",
)
def fcn(features, *, filters=128, units=256, pool=2):
    # Fully-convolutional (Choi et al. 2016 FCN): convolution and pooling shrink time;
    # a last 'valid' conv spanning what is left makes the map 1 x units.
    steps = static_time_steps(features, "fcn")
    x, block = features, 0
    while steps > pool:
        block += 1
        x = layers.Conv1D(filters, 3, padding="same", name=f"backend_conv{block}")(x)
        x = blocks.BatchNormalization(name=f"backend_bn{block}")(x)
        x = layers.ReLU(name=f"backend_relu{block}")(x)
        x = layers.MaxPooling1D(pool, name=f"backend_pool{block}")(x)
        steps //= pool
    x = layers.Conv1D(units, steps, padding="valid", activation="relu", name="backend_conv_to_1x1")(x)
    x = blocks.BatchNormalization(name="backend_bn_out")(x)
    return layers.Flatten(name="backend_flatten")(x)
