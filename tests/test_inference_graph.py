"""zoo.tagging.inference_graph: pooling before the batch norm gives the network's outputs for less work."""
import keras
import numpy as np
import pytest

import zoo
from zoo.tagging.inference_graph import PooledAffine, pool_before_batch_norm


def _with_random_batch_norms(model, seed):
    """Batch norms with scales of both signs and non-trivial statistics (fresh ones are identity)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.normal(0, 1, gamma.shape), rng.normal(0, 0.5, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, variance.shape)])
    return model


@pytest.mark.parametrize("model_id, blocks", [("musicnn-vertical-horizontal", 5), ("dense-small-rectangular", 5)])
def test_same_outputs_with_every_block_rewritten(model_id, blocks):
    model = _with_random_batch_norms(zoo.create_model(model_id, num_classes=7, input_stage=False), seed=4)
    twin = pool_before_batch_norm(model)
    assert sum(isinstance(layer, PooledAffine) for layer in twin.layers) == blocks
    x = np.random.default_rng(5).uniform(0, 3, (3, *model.input_shape[1:])).astype(np.float32)
    np.testing.assert_allclose(twin(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)


def test_kept_layers_and_models_without_the_block_are_left_alone():
    model = zoo.create_model("musicnn-vertical-horizontal", num_classes=3, input_stage=False)
    twin = pool_before_batch_norm(model, keep=("frontend_timbral0_bn",))
    assert sum(isinstance(layer, PooledAffine) for layer in twin.layers) == 4
    assert isinstance(twin.get_layer("frontend_timbral0_bn"), keras.layers.BatchNormalization)
    plain = zoo.create_model("maxpool-sample-level", num_classes=3)  # BN before ReLU: nothing to move
    assert pool_before_batch_norm(plain) is plain
