"""REST and gRPC clients against a loopback test double that answers from the exported SavedModels."""
import json
import urllib.request

import numpy as np
import pytest
from serving_double import ServingDouble
from test_export import ZOO_TAG_TOLERANCE, zoo_patch_means

import export
from export import client as serving_client
from export.client import ClientError, GrpcClient, RestClient, ServingError
from export.saved_model import build_servable_model
from zoo.audio import load_audio

VARIABLE_ID = "maxpool-frame-single"
FIXED_ID = "dense-frame-single"
PATCH_SAMPLES = 47616
TAGS = [f"tag{i:02d}" for i in range(50)]
RATE = 16000


def _noise(samples, seed=0, batch=None):
    rng = np.random.default_rng(seed)
    shape = (samples,) if batch is None else (batch, samples)
    return (0.3 * rng.standard_normal(shape)).astype(np.float32)


@pytest.fixture(scope="module")
def models():
    return {mid: build_servable_model(mid, tag_names=TAGS) for mid in (VARIABLE_ID, FIXED_ID)}


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    base = tmp_path_factory.mktemp("served")
    for model in models.values():
        export.export_saved_model(model, base, check_ops=False, warmup_requests=False)
    double = ServingDouble(str(base))
    urls = {"rest": double.start_rest(), "grpc": double.start_grpc()}
    yield urls
    double.stop()


CLIENT_KINDS = ["rest-instances", "rest-inputs", "grpc"]


def _client(kind, urls, model_id, **options):
    if kind == "grpc":
        return GrpcClient(model_id, urls["grpc"], **options)
    return RestClient(model_id, urls["rest"], request_format=kind.split("-")[1], **options)


def _zoo_tag_frame(model, waveform, top_k=None):
    return serving_client.scores_frame(TAGS, zoo_patch_means(model, [waveform])[0], top_k)


def _assert_same_frame(served, expected):
    assert list(served.columns) == ["tag", "score"] and len(served) == len(expected)
    assert np.all(np.diff(served["score"].to_numpy()) <= 0)  # best first
    expected_scores = dict(zip(expected["tag"], expected["score"]))
    for tag, score in zip(served["tag"], served["score"]):
        assert abs(score - expected_scores.get(tag, np.inf)) <= ZOO_TAG_TOLERANCE, tag


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_client_tags_resampled_audio_like_zoo_tag(kind, server, models):
    audio_22k = _noise(33075, seed=1)  # 1.5 s at 22.05 kHz
    with _client(kind, server, VARIABLE_ID) as client:
        served = client.tag(audio_22k, sample_rate=22050, top_k=None)
        top3 = client.tag(audio_22k, sample_rate=22050, top_k=3)
    waveform = load_audio(audio_22k, sample_rate=22050, target_rate=RATE)
    expected = _zoo_tag_frame(models[VARIABLE_ID], waveform)
    _assert_same_frame(served, expected)
    _assert_same_frame(top3, expected.head(3))


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_fixed_length_model_takes_the_whole_clip_and_cuts_it_in_the_graph(kind, server, models):
    audio = _noise(int(2.5 * PATCH_SAMPLES), seed=2)  # two patches and a dropped tail
    with _client(kind, server, FIXED_ID) as client:
        served = client.tag(audio, top_k=None)
    _assert_same_frame(served, _zoo_tag_frame(models[FIXED_ID], audio))


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_predict_and_the_other_signatures(kind, server, models):
    waveforms = _noise(20000, seed=3, batch=2)
    model = models[VARIABLE_ID]
    with _client(kind, server, VARIABLE_ID, version=1) as client:
        outputs = client.predict(waveforms)
        embedding = client.predict(waveforms, signature="embed")["embedding"]
        assert client.tag_names() == TAGS
    np.testing.assert_allclose(outputs["scores"], zoo_patch_means(model, waveforms), atol=ZOO_TAG_TOLERANCE)
    assert outputs["top_k_tags"].shape == outputs["top_k_scores"].shape == (2, 5)
    np.testing.assert_allclose(embedding, zoo_patch_means(model, waveforms, "embedding"), atol=ZOO_TAG_TOLERANCE)


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_requests_that_do_not_fit_are_refused_before_sending(kind, server):
    with _client(kind, server, FIXED_ID) as client:
        with pytest.raises(ClientError, match=r"float audio in \[-1, 1\], got dtype int16"):
            client.predict(np.zeros((1, PATCH_SAMPLES), np.int16))
        with pytest.raises(ClientError, match=r"shape \[batch, samples\]"):
            client.predict(np.zeros((1, PATCH_SAMPLES, 1), np.float32))
        with pytest.raises(ClientError, match="NaN or infinite"):
            client.predict(np.full((1, PATCH_SAMPLES), np.nan, np.float32))
        with pytest.raises(ServingError, match="has no signature 'classify'"):
            client.predict(np.zeros((1, 16000), np.float32), signature="classify")


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_the_servers_own_error_message_reaches_the_caller(kind, server):
    with _client(kind, server, VARIABLE_ID) as client:
        with pytest.raises(ServingError, match="waveform is empty: send at least one sample"):
            client.predict(np.zeros((1, 0), np.float32))
    with _client(kind, server, FIXED_ID, check_signature=False) as client:
        with pytest.raises(ServingError, match="refused the request"):
            client.predict(np.zeros((1, 16000), np.float32), signature="classify")
    with _client(kind, server, VARIABLE_ID, version=9) as client:
        with pytest.raises(ServingError, match="Servable not found"):
            client.predict(np.zeros((1, 16000), np.float32))


def test_wrong_dtype_sent_anyway_is_refused_by_the_server(server):
    # Past the client's checks (private call) to see what a careless client would get.
    with GrpcClient(VARIABLE_ID, server["grpc"]) as client:
        with pytest.raises(ServingError, match="INVALID_ARGUMENT.*Expects arg.0. to be float but double is provided"):
            client._predict(np.zeros((1, 16000), np.float64), "serving_default")
    body = json.dumps({"instances": [["not", "audio"]]}).encode()
    request = urllib.request.Request(f"{server['rest']}/v1/models/{VARIABLE_ID}:predict", data=body)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert "is not of expected type: float" in json.loads(refused.value.read())["error"]


def test_an_unreachable_server_is_one_clear_error():
    with pytest.raises(ServingError, match="cannot reach TF Serving at http://127.0.0.1:9"):
        RestClient(VARIABLE_ID, "http://127.0.0.1:9", timeout=5).predict(np.zeros((1, 16000), np.float32))
    with GrpcClient(VARIABLE_ID, "127.0.0.1:9", timeout=5) as client:
        with pytest.raises(ServingError, match="UNAVAILABLE"):
            client.predict(np.zeros((1, 16000), np.float32))
