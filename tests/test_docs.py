"""The documentation's own checks: links resolve, the README stays a landing page.

Reads the Markdown files as text (no zoo, Keras or TensorFlow import), so it runs in a second.
Relative links must name a file (or folder) of the repository, and a ``#anchor`` into a Markdown
file must name one of its headings, slugged as GitHub does: lower-case, punctuation other than
``-`` and ``_`` dropped, spaces turned into ``-``, a repeated heading suffixed ``-1``, ``-2``...
"""
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 300
# Files that are not in the repository: the documentation must not send readers to them.
ABSENT_FILES = ("DESIGN.md", "DEVELOPERS.md")


def _user_docs():
    """README, CHANGELOG and docs/: what a user reads."""
    files = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
    return [path for path in files if path.exists()]


def _all_docs():
    return _user_docs() + sorted((REPO / "benchmarks" / "results").rglob("*.md"))


def _ids(paths):
    return [str(path.relative_to(REPO)) for path in paths]


_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+).*?\1")
# [text](target "title") and ![alt](target); the target ends at whitespace or the closing bracket.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks, inline code removed."""
    inside_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            inside_fence = not inside_fence
            continue
        if not inside_fence:
            yield number, _INLINE_CODE.sub("", line)


def _links(path):
    for number, line in _prose_lines(path):
        for match in _INLINE_LINK.finditer(line):
            yield number, match.group(1)
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1)


def github_slug(heading):
    """The anchor GitHub gives a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading counts by its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path):
    anchors, seen = set(), {}
    inside_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            inside_fence = not inside_fence
            continue
        heading = None if inside_fence else _HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _broken_links(path):
    problems = []
    for number, target in _links(path):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue  # web addresses are not checked here
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        if file_part.startswith("/") or not resolved.is_relative_to(REPO):
            problems.append(f"{where} points outside the repository")
        elif not resolved.exists():
            problems.append(f"{where} names no file")
        elif anchor and resolved.suffix == ".md" and unquote(anchor).lower() not in _anchors(resolved):
            problems.append(f"{where} names no heading of {resolved.relative_to(REPO)}")
    return problems


def test_the_documentation_exists():
    assert (REPO / "README.md").exists() and (REPO / "CHANGELOG.md").exists()
    assert list((REPO / "docs").glob("*.md")), "docs/ has no page"


@pytest.mark.parametrize("path", _all_docs(), ids=_ids(_all_docs()))
def test_relative_links_resolve(path):
    assert _broken_links(path) == []


def test_readme_is_a_landing_page():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move reference to docs/"


def test_readme_keeps_the_two_commands_ci_runs():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "bash setup.sh && .venv/bin/python -m benchmarks --preset=default --out=runs/default" in text
    assert "bash setup.sh test && .venv/bin/python -m pytest -q tests" in text


@pytest.mark.parametrize("path", _user_docs(), ids=_ids(_user_docs()))
def test_no_file_outside_the_repository_is_named(path):
    text = path.read_text(encoding="utf-8")
    for name in ABSENT_FILES:
        assert name not in text, f"{path.relative_to(REPO)} names {name}, which is not in the repository"


@pytest.mark.parametrize("path", _all_docs(), ids=_ids(_all_docs()))
def test_no_path_of_a_build_machine(path):
    text = path.read_text(encoding="utf-8")
    for fragment in ("/work/", "../shared"):
        assert fragment not in text, f"{path.relative_to(REPO)} names {fragment!r}"


@pytest.mark.parametrize("heading, slug", [
    ("Host memory on JAX and PyTorch", "host-memory-on-jax-and-pytorch"),
    ("Catalogue (`python -m zoo.describe`; 50 tags)", "catalogue-python--m-zoodescribe-50-tags"),
    ("The seed review's findings, with error bars", "the-seed-reviews-findings-with-error-bars"),
    ("[0.1.0] - 2026-12-03", "010---2026-12-03"),
    ("snake_case stays", "snake_case-stays"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug
