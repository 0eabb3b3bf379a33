"""The demo's one HTML page: a model chooser and an upload form, then the tags, the taggram and
a download of the JSON record, or the error in words.

Everything the page shows comes with it (the picture and the record as ``data:`` URLs, the style
and the few lines of script inline): it asks no other server for anything, and ``POLICY`` (sent
as its Content-Security-Policy) tells the browser to refuse anything from elsewhere.

    >>> choices, default = model_choices("musicnn", "mtt")      # zoo.demo.choices
    >>> html = render_page(choices, default, max_upload_bytes=100_000_000)
"""
import base64
import html
import json

__all__ = ["POLICY", "render_page"]

POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
          "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

_STYLE = """
body { font: 16px/1.45 system-ui, sans-serif; max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin: 1.4rem 0 0.4rem; }
.lead { color: #555; margin-top: 0; }
form { display: flex; flex-wrap: wrap; gap: 0.6rem 1rem; align-items: center; padding: 0.9rem 1rem;
       background: #f3f5f8; border-radius: 8px; }
select, input, button { font: inherit; } button { padding: 0.3rem 1.1rem; }
#status { color: #555; } .error { color: #a40000; background: #fff0f0; padding: 0.7rem 1rem; border-radius: 8px; }
table { border-collapse: collapse; } td { padding: 0.15rem 0.8rem 0.15rem 0; }
td.score { font-variant-numeric: tabular-nums; text-align: right; }
.bar { height: 0.8rem; background: #3b6fb6; border-radius: 2px; }
img { max-width: 100%; border: 1px solid #ddd; margin-top: 0.5rem; }
.meta { color: #555; }
"""

# Refuses a file over the limit before sending it, and says that the upload is under way.
_SCRIPT = """
document.getElementById("upload").addEventListener("submit", function (event) {
  var file = document.getElementById("audio").files[0];
  var status = document.getElementById("status");
  var limit = Number(this.dataset.limit);
  if (!file) { event.preventDefault(); status.textContent = "Choose an audio file first."; return; }
  if (file.size > limit) {
    event.preventDefault();
    status.textContent = file.name + " is " + (file.size / 1e6).toFixed(1) + " MB; this page takes files up to "
      + (limit / 1e6).toFixed(0) + " MB.";
    return;
  }
  status.textContent = "Tagging " + file.name + "\u2026";
  document.getElementById("submit").disabled = true;
});
"""


def _options(choices, selected):
    return "\n".join(f'<option value="{html.escape(c.key)}"{" selected" if c.key == selected else ""}>'
                     f"{html.escape(c.label)}</option>" for c in choices)


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def _result(tagged):
    record = tagged.record
    best = max([t["score"] for t in record["tags"]] + [1e-6])
    rows = "\n".join(
        f'<tr><td class="tag">{html.escape(t["tag"])}</td><td class="score">{t["score"]:.4f}</td>'
        f'<td><div class="bar" style="width: {0.2 + 12 * t["score"] / best:.1f}rem"></div></td></tr>'
        for t in record["tags"])
    picture = base64.b64encode(tagged.png).decode("ascii")
    download = base64.b64encode(json.dumps(record, indent=2).encode("utf-8")).decode("ascii")
    name = html.escape(record["file"])
    return f"""
<section id="result">
<h2 id="file">{name}</h2>
<p class="meta">{_duration(tagged.audio_seconds)} of audio tagged in {tagged.elapsed_seconds:.1f} s with
{html.escape(tagged.model_label)}, on this machine.</p>
<table id="tags"><tbody>
{rows}
</tbody></table>
<p><a id="download" download="{name}.tags.json" href="data:application/json;base64,{download}">Download the
JSON record</a> (what <code>zoo-tag --format jsonl</code> writes for this file).</p>
<h2>Taggram</h2>
<img id="taggram" alt="taggram of {name}: its top tags over time" src="data:image/png;base64,{picture}">
</section>"""


def render_page(choices, selected, *, max_upload_bytes, tagged=None, error=None):
    """The page: the chooser (``selected`` chosen), the form, and a ``Tagged`` result or an error
    line below it."""
    body = _result(tagged) if tagged is not None else ""
    if error:
        body = f'<p class="error" id="error" role="alert">{html.escape(error)}</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zoo-demo: audio tagging</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style>
</head>
<body>
<h1>audio-zoo: what does the model hear?</h1>
<p class="lead">Upload a wav, flac, ogg or mp3 file: the model tags it on this machine and draws its taggram,
the top tags over time. Nothing is sent anywhere else.</p>
<form id="upload" method="post" action="/" enctype="multipart/form-data" data-limit="{max_upload_bytes}">
<label>Model <select id="model" name="model">
{_options(choices, selected)}
</select></label>
<input id="audio" name="audio" type="file" accept=".wav,.flac,.ogg,.mp3,audio/*">
<button id="submit" type="submit">Tag</button>
<span id="status">Files up to {max_upload_bytes / 1e6:.0f} MB.</span>
</form>
{body}
<script>{_SCRIPT}</script>
</body>
</html>
"""
