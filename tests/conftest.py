import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def own_model(tmp_path_factory):
    """A small random-weight model file of one's own (maxpool-vertical, 3 tags): converting it takes seconds."""
    import keras

    import zoo

    keras.utils.set_random_seed(5)
    path = tmp_path_factory.mktemp("own-model") / "small.keras"
    zoo.load("maxpool-vertical", num_classes=3, tag_names=["a", "b", "c"]).save(path)
    return path
