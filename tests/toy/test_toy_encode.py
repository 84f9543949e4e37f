import io

import numpy as np
import pytest
import torch

from hfvideoclip.toy import COLOURS, SHAPES, ClipSpec, read_mp4, render_clip, write_mp4
from hfvideoclip.toy.encode import encode_mp4_bytes


def test_mp4_decodes_to_the_rendered_frames(tmp_path):
    frames = render_clip(ClipSpec("star", "orange", "moving right", "waves"), 11)
    path = tmp_path / "clip.mp4"
    write_mp4(frames, path, fps=8)
    with open(path, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"
    decoded = read_mp4(path)
    assert decoded.shape == frames.shape and decoded.dtype == torch.uint8
    assert (decoded.float() - frames.float()).abs().mean() < 6.0
    try:
        from hfvideoclip.models.video_clip.video_decoding import decode_video
    except ImportError:  # the library decoder is optional here
        return
    sampled = decode_video(str(path), num_frames=16)
    assert torch.equal(sampled[0], decoded)


def test_colours_stay_distinguishable_after_compression():
    names = list(COLOURS)
    palette = np.asarray([COLOURS[c] for c in names], dtype=float)
    for i, colour in enumerate(names):
        spec = ClipSpec(SHAPES[i % len(SHAPES)], colour, "still", "stripes", num_distractors=0)
        rendered = render_clip(spec, i)
        decoded = read_mp4(encode_mp4_bytes(rendered)).numpy().astype(float)
        mask = np.abs(rendered.numpy().astype(int) - palette[i]).sum(-1) < 40
        mask[:, :2] = mask[:, -2:] = False
        mean = decoded[mask].mean(0)
        assert names[np.abs(palette - mean).sum(1).argmin()] == colour


def test_write_to_file_object_and_bad_input():
    frames = torch.zeros(4, 32, 32, 3, dtype=torch.uint8)
    buffer = io.BytesIO()
    write_mp4(frames, buffer, fps=4)
    assert read_mp4(buffer.getvalue()).shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="even"):
        write_mp4(torch.zeros(2, 31, 32, 3, dtype=torch.uint8), io.BytesIO())
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(torch.zeros(2, 32, 32, 3), io.BytesIO())
    with pytest.raises(ValueError, match="shape"):
        write_mp4(torch.zeros(32, 32, 3, dtype=torch.uint8), io.BytesIO())
