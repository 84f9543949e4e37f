"""Write toy clips as real H.264 mp4 files (yuv420p) with PyAV, and read them back.

`read_mp4` is a minimal whole-file decoder for the toy world's own needs (pretraining through the codec,
tests); datasets and models decode with `hfvideoclip.models.video_clip.video_decoding`.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction

import av
import numpy as np
import torch

DEFAULT_FPS = 8
DEFAULT_CRF = 18
"""x264 constant rate factor: 18 keeps the toy colours and edges close to the rendered frames."""


def _as_uint8_frames(frames) -> np.ndarray:
    array = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"`frames` must have shape (T, H, W, 3), got {tuple(array.shape)}.")
    if array.dtype != np.uint8:
        raise ValueError(f"`frames` must be uint8, got {array.dtype}; convert with (x * 255).round().to(torch.uint8).")
    if array.shape[0] == 0:
        raise ValueError("`frames` is empty: pass at least one frame.")
    height, width = array.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"`frames` are {height}x{width}; yuv420p H.264 needs even height and width.")
    return np.ascontiguousarray(array)


def write_mp4(frames, path, fps: int = DEFAULT_FPS, *, crf: int = DEFAULT_CRF) -> None:
    """Encode uint8 frames (T, H, W, 3) as an H.264 / yuv420p mp4 at ``path`` (str, PathLike or binary file)."""
    array = _as_uint8_frames(frames)
    if fps <= 0:
        raise ValueError(f"fps={fps}: use a positive frame rate, e.g. 8.")
    target = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    with av.open(target, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = array.shape[2], array.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
        stream.codec_context.thread_count = 1
        for frame in array:
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def encode_mp4_bytes(frames, fps: int = DEFAULT_FPS, *, crf: int = DEFAULT_CRF) -> bytes:
    """`write_mp4` into memory; returns the mp4 file's bytes."""
    buffer = io.BytesIO()
    write_mp4(frames, buffer, fps, crf=crf)
    return buffer.getvalue()


def read_mp4(source) -> torch.Tensor:
    """Decode every frame of an mp4 (path, bytes or binary file) to uint8 (T, H, W, 3) RGB."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    elif isinstance(source, os.PathLike):
        source = os.fspath(source)
    with av.open(source, mode="r") as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return torch.from_numpy(np.stack(frames))
