"""The toy world: procedural videos of coloured shapes in motion, a tiny pretrained CLIP, and protocols.

- `render_clip(spec, seed)` renders a clip as uint8 (T, H, W, 3); `write_mp4(frames, path, fps)` encodes it.
- `toy_clip_path()` is the directory of the shipped tiny CLIP (HF `CLIPModel` + `CLIPTokenizer` +
  `preprocessor_config.json`), pretrained on single frames by ``recipes/pretrain_toy_clip.py``: it knows
  colours and shapes but no motion, as CLIP knows objects but not actions.
- `load_protocol(name, cache_dir=None, **params)` gives the "toy-still", "toy-b2n", "toy-xd" and "toy-ooc"
  protocols as `datasets.Dataset`s of mp4 paths (also registered by name: `hfvideoclip.data.load_protocol`).
  `ProtocolData` / `ProtocolSplit` are re-exported from `hfvideoclip.data.protocols`.
"""

from __future__ import annotations

import os

from .encode import read_mp4, write_mp4
from .protocols import (
    DEFAULT_PARAMS,
    PROTOCOL_NAMES,
    ProtocolData,
    ProtocolSplit,
    default_cache_dir,
    load_protocol,
)
from .render import render_clip
from .tokenizer import build_tokenizer, save_tokenizer
from .world import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT_PAIRS,
    MOTIONS,
    SHAPES,
    ClipSpec,
    colour_shape_name,
    motion_shape_name,
    seen_pairs,
)


def toy_clip_path() -> str:
    """Directory of the tiny CLIP shipped with the package (loads with ``CLIPModel.from_pretrained``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_clip")


__all__ = [
    "BACKGROUNDS", "COLOURS", "DEFAULT_PARAMS", "HELD_OUT_PAIRS", "MOTIONS", "PROTOCOL_NAMES", "SHAPES",
    "ClipSpec", "ProtocolData", "ProtocolSplit", "build_tokenizer", "colour_shape_name", "default_cache_dir",
    "load_protocol", "motion_shape_name", "read_mp4", "render_clip", "save_tokenizer", "seen_pairs",
    "toy_clip_path", "write_mp4",
]
