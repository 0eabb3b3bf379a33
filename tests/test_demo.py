"""zoo-demo as a person uses it: Debian's headless Chromium, driven through Selenium, uploads a
rendered General-MIDI clip to a real ``zoo-demo`` process on a free loopback port and waits for
the tags ``zoo.tag`` gives; then a corrupt file, then the clip again. Around it, over plain HTTP:
two uploads at once, an upload over the size limit, and the one-line errors of the command.

The browser is /usr/bin/chromium with /usr/bin/chromedriver (``bash setup.sh test`` installs both;
nothing downloads a browser). Without them the browser test is skipped, except under CI, where
it fails.
"""
import base64
import json
import os
import re
import shutil
import socket
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.demo.cli import main

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_browser import CHROMEDRIVER, CHROMIUM, chromium, have_chromium, start_demo, stop_demo, upload  # noqa: E402

TOP_K = 5
MAX_UPLOAD_MB = 2  # a 10 s FLAC clip is ~0.3 MB
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "musicnn-vertical-horizontal:mtt"
SCORE_TOLERANCE = 2e-4  # the page shows 4 decimals of ONNX Runtime's scores; zoo.tag runs Keras (1e-5 apart)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 10 s General-MIDI piece rendered with fluidsynth (as the benchmark's data set is)."""
    from zoo.datasets.fluidsynth import SoundfontNotFoundError
    from zoo.datasets.gm import render_clip
    from zoo.datasets.gm_plan import plan_clip

    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth is not installed (bash setup.sh installs it)")
    try:
        return render_clip(plan_clip(3, "test", 0, 10.0), tmp_path_factory.mktemp("demo") / "gm piece.flac")
    except SoundfontNotFoundError as error:
        pytest.skip(f"cannot render music: {error}")


@pytest.fixture(scope="module")
def corrupt(clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("corrupt") / "broken.flac"
    path.write_bytes(clip.read_bytes()[:3000])  # a FLAC cut short: its header promises more
    return path


@pytest.fixture(scope="module")
def expected(clip):
    """What zoo.tag says of the clip: {tag: score} of every tag, and the top TOP_K."""
    tags = zoo.tag(clip, top_k=None)
    return dict(zip(tags["tag"], tags["score"])), list(tags["tag"][:TOP_K])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A zoo-demo process on a free loopback port: (its URL, the file its stderr goes to)."""
    log = tmp_path_factory.mktemp("server") / "stderr.txt"
    try:
        process, url = start_demo(["--top-k", str(TOP_K), "--max-upload-mb", str(MAX_UPLOAD_MB)], log)
    except RuntimeError as error:
        pytest.fail(str(error))
    yield url, log
    assert stop_demo(process) == 0, log.read_text()[-2000:]  # Ctrl-C stops it cleanly


def _post(url, path, model=MODEL, name=None):
    """POST a file as the page's form does: (status, page)."""
    boundary = uuid.uuid4().hex
    name = name or os.path.basename(path)
    body = b"".join([
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode(),
        Path(path).read_bytes(), f"\r\n--{boundary}--\r\n".encode()])
    form = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(url, data=body, headers=form)
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _tags(page):
    return [(tag, float(score)) for tag, score in
            re.findall(r'<td class="tag">([^<]*)</td><td class="score">([0-9.]+)</td>', page)]


def _check_tags(shown, expected):
    scores, top = expected
    assert [tag for tag, _ in shown] == top or sorted(t for t, _ in shown) == sorted(top), (shown, top)
    for tag, score in shown:
        assert abs(score - scores[tag]) < SCORE_TOLERANCE, (tag, score, scores[tag])


# --- in a browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not have_chromium():
        message = f"{CHROMIUM} and {CHROMEDRIVER} are not installed (bash setup.sh test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


def test_a_person_uploads_a_clip_then_a_corrupt_file_then_the_clip_again(server, browser, clip, corrupt, expected):
    from selenium.webdriver.common.by import By

    url, _ = server
    browser.get(url)
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    assert MODEL in options and len(options) == len(zoo.list_weights())  # every registered weights entry
    for attempt in ("first", "after the error"):
        upload(browser, clip)
        assert not browser.find_elements(By.ID, "error"), attempt
        rows = browser.find_elements(By.CSS_SELECTOR, "#tags tr")
        shown = [(r.find_element(By.CLASS_NAME, "tag").text, float(r.find_element(By.CLASS_NAME, "score").text))
                 for r in rows]
        _check_tags(shown, expected)
        picture = browser.find_element(By.ID, "taggram")
        width = browser.execute_script("return arguments[0].complete ? arguments[0].naturalWidth : 0", picture)
        assert width >= 800 and picture.is_displayed()
        href = browser.find_element(By.ID, "download").get_attribute("href")
        record = json.loads(base64.b64decode(href.split(",", 1)[1]))
        assert record["file"] == clip.name and [t["tag"] for t in record["tags"]] == [tag for tag, _ in shown]
        if attempt == "first":
            upload(browser, corrupt)
            error = browser.find_element(By.ID, "error").text
            assert error.startswith("Cannot decode broken.flac"), error
            assert str(corrupt.parent) not in error  # the server's temporary path is not shown
    # Everything the page loaded came from the demo itself or with the page (data: URLs).
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith((url, "data:")) for name in loaded), loaded


# --- over HTTP ------------------------------------------------------------------------------------


def test_two_uploads_at_once_are_both_answered(server, clip, expected):
    url, _ = server
    answers = [None, None]

    def upload(index):
        answers[index] = _post(url, clip, name=f"copy{index}.flac")

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for index, (status, page) in enumerate(answers):
        assert status == 200 and f"copy{index}.flac" in page
        _check_tags(_tags(page), expected)


def test_a_text_file_and_a_too_large_upload_get_their_errors_in_words(server, tmp_path, clip, expected):
    url, log = server
    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio at all")
    status, page = _post(url, notes)
    assert status == 422 and 'id="error"' in page and "notes.mp3" in page
    large = tmp_path / "large.wav"
    large.write_bytes(np.zeros(int(MAX_UPLOAD_MB * 1.5e6), np.uint8).tobytes())
    status, page = _post(url, large)
    assert status == 413 and f"this demo takes files up to {MAX_UPLOAD_MB} MB" in page
    status, page = _post(url, clip)  # and the server goes on serving
    assert status == 200
    _check_tags(_tags(page), expected)
    assert "notes.mp3: error:" in log.read_text()


@pytest.mark.parametrize("arguments, message", [
    (["--model", "nope"], "nope"),
    (["--weights", "nope"], "No pretrained weights 'nope'"),
    (["--port", "http"], "--port: must be a port number"),
    (["--max-upload-mb", "0"], "--max-upload-mb: must be a positive number"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(capsys, arguments, message):
    assert main(arguments) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo-demo: error:") and message in lines[0], lines


def test_a_taken_port_is_one_line_and_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        assert main(["--port", str(taken.getsockname()[1])]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo-demo: error: cannot listen on 127.0.0.1:"), lines


def test_without_the_demo_extra_it_says_how_to_install_it(capsys, monkeypatch):
    import zoo.demo.cli as cli

    monkeypatch.setattr(cli, "_EXTRA", ("starlette", "no_such_module_here"))
    assert main([]) == 2
    assert capsys.readouterr().err.strip() == ("zoo-demo: error: the demo needs its extra, which is not installed "
                                               "(no no_such_module_here): pip install -e '.[demo]'")


def test_a_model_file_of_your_own_is_offered_first_and_tags(clip):
    from zoo.demo.choices import model_choices
    from zoo.demo.tagger import Tagger

    own = os.path.join(REPO, "tests", "fixtures", "saved_models", "maxpool-vertical.keras")
    choices, default = model_choices(own, "mtt")
    assert choices[0].key == default and choices[0].label == "maxpool-vertical.keras (your model)"
    assert [c.key for c in choices[1:]] == [f"{m}:{w}" for m, w in zoo.list_weights()[["model", "weights"]].values]
    tagged = Tagger(choices, top_k=3, runtime="keras")(str(clip), "mine.flac", default)
    expected = zoo.tag(clip, model=own, top_k=3)
    assert tagged.record["file"] == "mine.flac"
    assert [t["tag"] for t in tagged.record["tags"]] == list(expected["tag"])
    np.testing.assert_allclose([t["score"] for t in tagged.record["tags"]], expected["score"], atol=1e-5)
    assert tagged.png.startswith(b"\x89PNG") and tagged.audio_seconds == pytest.approx(10.0)
