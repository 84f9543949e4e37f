"""The README and docs/ as written: the README's "Use" snippet and every self-contained ```python snippet of
docs/*.md run (with the shipped toy CLIP in place of the Hub id and a generated video in place of video.mp4), the
README stays short, and the links of the README and of docs/ point at files that exist.

A docs snippet that cannot run on its own (it needs data, a trained model or minutes of training) carries a
`<!-- no-test: reason -->` comment on the line before its fence; it is reported as skipped with that reason."""

import re
from pathlib import Path

import numpy as np
import pytest

from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.encode import write_mp4

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_CHARS = 10_000
HUB_ID = '"openai/clip-vit-base-patch16"'
SNIPPET = re.compile(r"(?:<!-- no-test: (?P<reason>[^\n]*?) -->\n)?```python\n(?P<code>.*?)```", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prepare(tmp_path, monkeypatch, snippet: str) -> str:
    """The substitutions every snippet runs under: the toy CLIP for the Hub id, a small video as video.mp4 in the
    working directory (a temporary one)."""
    monkeypatch.chdir(tmp_path)
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    frames[:, 8:24, 8:24, 0] = 220
    write_mp4(frames, tmp_path / "video.mp4", fps=8)
    return snippet.replace(HUB_ID, repr(str(toy_clip_path())))


def test_use_snippet_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Use"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert f"clip = {HUB_ID}" in snippet
    snippet = _prepare(tmp_path, monkeypatch, snippet)
    namespace: dict = {}
    exec(compile(snippet.replace("clf(\"video.mp4\"", "result = clf(\"video.mp4\""), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert [r["label"] for r in result] and abs(sum(r["score"] for r in result) - 1) < 1e-5
    assert (tmp_path / "my-video-clip" / "processor_config.json").is_file()


def _docs_snippets():
    for page in sorted(DOCS.glob("*.md")):
        for number, match in enumerate(SNIPPET.finditer(page.read_text()), 1):
            reason = match.group("reason")
            marks = [pytest.mark.skip(reason=f"no-test: {reason}")] if reason is not None else []
            yield pytest.param(page.name, match.group("code"), reason, id=f"{page.name}#{number}", marks=marks)


@pytest.mark.parametrize("page, snippet, reason", list(_docs_snippets()))
def test_docs_snippet_runs(page, snippet, reason, tmp_path, monkeypatch):
    exec(compile(_prepare(tmp_path, monkeypatch, snippet), f"docs/{page}", "exec"), {"__name__": "__main__"})


def test_docs_have_runnable_snippets_and_every_skip_says_why():
    params = list(_docs_snippets())
    assert any(p.values[2] is None for p in params)  # the docs snippets are not all skipped
    for p in params:
        assert p.values[2] is None or p.values[2].strip(), f"{p.id}: a no-test comment without a reason"
    for page in DOCS.glob("*.md"):  # a no-test comment always sits right above a python fence
        text = page.read_text()
        assert text.count("<!-- no-test:") == len(re.findall(r"<!-- no-test: [^\n]*? -->\n```python\n", text)), page


def test_readme_is_short_and_its_docs_links_exist():
    text = README.read_text()
    assert len(text) <= README_MAX_CHARS, f"README.md has {len(text)} characters (at most {README_MAX_CHARS})"
    linked = {target.split("#")[0] for target in LINK.findall(text) if target.startswith("docs/")}
    assert "docs/reproduction.md" in linked
    assert {f"docs/{page.name}" for page in DOCS.glob("*.md")} <= linked, "every docs page is linked from the README"
    for target in linked:
        assert (ROOT / target).is_file(), f"README.md links {target}, which does not exist"


def test_docs_relative_links_exist():
    for page in sorted(DOCS.glob("*.md")):
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor of the page itself
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"docs/{page.name} links {target}, which does not exist"
