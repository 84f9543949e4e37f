"""The README's "Use" snippet runs as written, with the shipped toy CLIP in place of the Hub id and a generated
video in place of video.mp4."""

import re
from pathlib import Path

import numpy as np

from hfvideoclip.data.toy import toy_clip_path
from hfvideoclip.data.toy.encode import write_mp4

README = Path(__file__).resolve().parents[1] / "README.md"


def test_use_snippet_runs(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Use"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'clip = "openai/clip-vit-base-patch16"' in snippet
    snippet = snippet.replace('"openai/clip-vit-base-patch16"', repr(str(toy_clip_path())))
    monkeypatch.chdir(tmp_path)
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    frames[:, 8:24, 8:24, 0] = 220
    write_mp4(frames, tmp_path / "video.mp4", fps=8)
    namespace: dict = {}
    exec(compile(snippet.replace("clf(\"video.mp4\"", "result = clf(\"video.mp4\""), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert [r["label"] for r in result] and abs(sum(r["score"] for r in result) - 1) < 1e-5
    assert (tmp_path / "my-video-clip" / "processor_config.json").is_file()
