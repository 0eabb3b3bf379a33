"""The demo's Starlette application: ``GET /`` the page, ``POST /`` an upload, answered with the
page holding its tags, taggram and JSON record, or the error in words.

An upload over the size limit is refused with a message (its bytes are read and dropped, so that
the browser gets the answer rather than a broken connection); a file that is no audio, or that
fails in any other way, gets its error on the page while the server goes on serving. The
analysis runs in a worker thread, so the server answers other requests meanwhile; two uploads at
once are analysed one after the other (``Tagger``) and both answered.

    >>> choices, default = model_choices("musicnn", "mtt")      # zoo.demo.choices
    >>> app = make_app(Tagger(choices), choices, default, max_upload_bytes=100_000_000)
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)
"""
import logging
import os
import shutil
import tempfile

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.responses import HTMLResponse
from starlette.routing import Route

from zoo.audio.decoding import AudioError
from zoo.demo.page import POLICY, render_page

__all__ = ["make_app"]

_log = logging.getLogger("zoo.demo")
_HEADERS = {"Content-Security-Policy": POLICY, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _upload_name(upload):
    """The uploaded file's own name (a browser may send a path), for the page and the record."""
    name = os.path.basename((upload.filename or "").replace("\\", "/")).strip()
    return name or "upload"


def make_app(tagger, choices, default_key, *, max_upload_bytes, on_result=None):
    """The ASGI application serving ``choices`` (``model_choices``) through ``tagger`` (``Tagger``).

    Args:
        tagger: what analyses an upload.
        choices: the models offered, ``default_key`` chosen when the page opens.
        max_upload_bytes: larger uploads are refused with a message.
        on_result: called with one line per upload (what was tagged, or its error); None: logged.
    """
    say = on_result or _log.info

    def page(status=200, selected=default_key, **shown):
        content = render_page(choices, selected, max_upload_bytes=max_upload_bytes, **shown)
        return HTMLResponse(content, status_code=status, headers=_HEADERS)

    async def show(request):
        return page()

    async def refuse(request, status, error):
        async for _ in request.stream():  # read what was sent, so the browser reads the answer
            pass
        say(f"refused an upload: {error}")
        return page(status, error=error)

    async def analyse(selected, upload):
        name = _upload_name(upload)
        with tempfile.TemporaryDirectory(prefix="zoo-demo-") as folder:
            path = os.path.join(folder, "upload" + os.path.splitext(name)[1].lower())
            with open(path, "wb") as handle:
                await run_in_threadpool(shutil.copyfileobj, upload.file, handle, 1 << 20)
            try:
                tagged = await run_in_threadpool(tagger, path, name, selected)
            except AudioError as error:
                say(f"{name}: error: {_one_line(error)}")
                return page(422, selected, error=_one_line(error))
            except Exception as error:  # noqa: BLE001 - the page says what failed; the server goes on
                _log.debug("tagging %s failed", name, exc_info=True)
                message = f"Could not tag {name}: {type(error).__name__}: {_one_line(error)}"
                say(message)
                return page(500, selected, error=message)
        say(f"{name}: {tagged.audio_seconds:.1f} s of audio tagged in {tagged.elapsed_seconds:.2f} s")
        return page(200, selected, tagged=tagged)

    async def upload(request):
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return await refuse(request, 411, "The upload came without its size; send it from the page's form.")
        if int(length) > max_upload_bytes:
            return await refuse(request, 413, f"The upload is {int(length) / 1e6:.1f} MB; this demo takes files up to "
                                              f"{max_upload_bytes / 1e6:.0f} MB (zoo-demo --max-upload-mb).")
        try:
            async with request.form(max_files=1, max_fields=4) as form:  # the upload's file is closed after
                selected, audio = form.get("model"), form.get("audio")
                if selected not in tagger.choices:
                    return page(400, error=f"This demo offers no model {selected!r}; choose one from the list.")
                if not isinstance(audio, UploadFile) or not audio.filename:
                    return page(400, selected, error="Choose an audio file first (wav, flac, ogg or mp3).")
                return await analyse(selected, audio)
        except MultiPartException as error:
            return page(400, error=f"The upload could not be read: {_one_line(error)}")

    return Starlette(routes=[Route("/", show, methods=["GET"]), Route("/", upload, methods=["POST"])])
