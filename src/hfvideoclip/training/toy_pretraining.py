"""Pieces of the tiny-CLIP pretraining shared by ``recipes/pretrain_toy_clip.py`` and the tests.

The tiny CLIP sees frames exactly as a video model sees them: rendered, encoded to H.264 mp4 and decoded,
shorter side resized to the model resolution (bilinear, antialiased), centre-cropped and normalised.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..evaluation.harness import pair_vs_partner
from ..models.video_clip import video_transforms as transforms
from ..text.class_embeddings import class_text_embeddings
from ..toy.encode import encode_mp4_bytes, read_mp4
from ..toy.render import DEFAULT_NUM_FRAMES, VIDEO_TRAIL_STRENGTH, render_clip
from ..toy.world import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT_MOTION_SHAPES,
    HELD_OUT_PAIRS,
    MOTIONS,
    SHAPES,
    ClipSpec,
    all_pairs,
    colour_shape_name,
    is_valid,
    motion_kind,
    motion_shape_name,
)

IMAGE_SIZE = 32
IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
"""CLIP's normalisation constants, also used by the tiny CLIP."""

CAPTION_TEMPLATES: tuple[str, ...] = (
    "{}", "{}.", "a photo of {}.", "a video of {}.", "a example of {}.", "a demonstration of {}.",
)
"""Bare templates; pretraining also draws from the 28 `KINETICS_TEMPLATES`, which evaluation uses."""


def resize_frames(frames: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, size, size) in [0, 1]: shorter side to ``size``, then centre crop.

    The same `hfvideoclip.models.video_clip.video_transforms` calls as `VideoClipProcessor` makes on video frames.
    """
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    return transforms.center_crop(transforms.resize_shorter_side(x, size), size)


def normalize(x: torch.Tensor, mean: Sequence[float] = IMAGE_MEAN, std: Sequence[float] = IMAGE_STD) -> torch.Tensor:
    """Normalise float (..., 3, H, W) images in [0, 1] with per-channel ``mean`` and ``std``."""
    return transforms.normalize(x, mean, std)


def preprocess_frames(frames: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """uint8 (N, H, W, 3) frames -> normalised float (N, 3, size, size) model input."""
    return normalize(resize_frames(frames, size))


def through_mp4(frames: torch.Tensor, fps: int = 8) -> torch.Tensor:
    """Round-trip frames through H.264 (what a decoded dataset video looks like)."""
    return read_mp4(encode_mp4_bytes(frames, fps))


def preprocessor_config(size: int = IMAGE_SIZE) -> dict:
    """`CLIPImageProcessor` configuration matching `preprocess_frames`."""
    return {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"shortest_edge": size},
        "resample": 2,  # bilinear
        "do_center_crop": True,
        "crop_size": {"height": size, "width": size},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGE_MEAN),
        "image_std": list(IMAGE_STD),
        "do_convert_rgb": True,
    }


def write_preprocessor_config(directory: str | os.PathLike, size: int = IMAGE_SIZE) -> None:
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(size), f, indent=2)


def still_frames(pairs: Sequence[tuple[str, str]], videos_per_pair: int, seed: int = 10_000_000,
                 size: int = IMAGE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed middle frames of still clips and their pair indices, for zero-shot checks.

    The frames go through H.264 together (one mp4), as in pretraining.
    """
    frames, labels = [], []
    for index, (colour, shape) in enumerate(pairs):
        for i in range(videos_per_pair):
            spec = ClipSpec(shape, colour, "still", BACKGROUNDS[(i + index) % len(BACKGROUNDS)])
            frames.append(render_clip(spec, seed + 1000 * index + i, frame_indices=[DEFAULT_NUM_FRAMES // 2]))
            labels.append(index)
    return preprocess_frames(through_mp4(torch.cat(frames)), size), torch.tensor(labels)


@torch.no_grad()
def zero_shot_still_accuracy(model, tokenizer, *, pairs: Sequence[tuple[str, str]] | None = None,
                             held_out: Sequence[tuple[str, str]] = HELD_OUT_PAIRS, videos_per_pair: int = 10,
                             templates: Sequence[str] = ("{}",), seed: int = 10_000_000,
                             frames: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, float]:
    """Top-1 of zero-shot colour-shape classification of still frames within the vocabulary of ``pairs``.

    Returns ``{"seen": ..., "held_out": ...}`` (held-out pairs are those in ``held_out``; NaN if none).
    ``frames`` reuses the output of `still_frames` for the same ``pairs``.
    """
    pairs = list(all_pairs() if pairs is None else pairs)
    model.eval()
    images, labels = still_frames(pairs, videos_per_pair, seed) if frames is None else frames
    image = model.get_image_features(pixel_values=images)
    image = F.normalize(getattr(image, "pooler_output", image), dim=-1)
    text = class_text_embeddings(model, tokenizer, [colour_shape_name(c, s) for c, s in pairs], templates)
    correct = (image @ text.T).argmax(-1) == labels
    held_set = {tuple(p) for p in held_out}
    held = torch.tensor([tuple(pairs[i]) in held_set for i in labels.tolist()])
    seen_acc = correct[~held].float().mean().item() if (~held).any() else float("nan")
    held_acc = correct[held].float().mean().item() if held.any() else float("nan")
    return {"seen": seen_acc, "held_out": held_acc}


B2N_MOTIONS: tuple[str, ...] = ("rotating", "blinking", "side to side", "bouncing", "moving left", "moving right",
                                "growing", "shrinking")
"""The motions of the toy-b2n protocol, the vocabulary of `zero_shot_motion_accuracy`."""


@torch.no_grad()
def zero_shot_motion_accuracy(model, tokenizer, *, motions=B2N_MOTIONS, videos_per_class: int = 4,
                              num_frames: int = 8, trail_strength: float = VIDEO_TRAIL_STRENGTH,
                              seed: int = 20_000_000, templates=("{}",)) -> dict[str, float]:
    """Zero-shot top-1 of motion-shape classes ("a circle rotating") from protocol-like videos, as a frame-mean
    video model sees them: `num_frames` frames per clip (trails at `trail_strength`, through H.264), image
    features averaged over the frames, compared with every motion-shape name of ``motions``.

    Returns top-1 over all classes and over subsets: `held_out` (`HELD_OUT_MOTION_SHAPES`, never captioned in
    pretraining), `direction_free` and `direction_pair` (a direction pair's members look alike in single frames,
    so the frame-mean teacher confuses them), `pair_vs_partner` (a direction-pair video scored against its
    partner class alone: 0.5 is blind to direction) and `chance`.
    """
    classes = [(s, m) for m in motions for s in SHAPES if is_valid(s, m)]
    frames, labels = [], []
    indices = torch.linspace(0, DEFAULT_NUM_FRAMES - 1, num_frames).round().long().tolist()
    colours = list(COLOURS)
    for label, (shape, motion) in enumerate(classes):
        for i in range(videos_per_class):
            spec = ClipSpec(shape, colours[(i + label) % len(colours)], motion,
                            BACKGROUNDS[(i + 2 * label) % len(BACKGROUNDS)])
            frames.append(render_clip(spec, seed + 1000 * label + i, frame_indices=indices,
                                      trail_strength=trail_strength))
            labels.append(label)
    pixels = preprocess_frames(through_mp4(torch.cat(frames)))
    model.eval()
    image = model.get_image_features(pixel_values=pixels)
    image = F.normalize(getattr(image, "pooler_output", image), dim=-1).view(len(labels), num_frames, -1).mean(1)
    text = class_text_embeddings(model, tokenizer, [motion_shape_name(s, m) for s, m in classes], templates)
    scores = image @ text.T
    correct = (scores.argmax(-1) == torch.tensor(labels)).float()
    label_of = [classes[i] for i in labels]
    # a direction pair's member against its partner only (same shape): ~0.5 for a teacher that sees stills
    partners = {i: classes.index((s, MOTIONS[m].partner)) for i, (s, m) in enumerate(classes)
                if MOTIONS[m].partner is not None and (s, MOTIONS[m].partner) in classes}
    versus = pair_vs_partner(scores, torch.tensor(labels), partners)
    held = set(HELD_OUT_MOTION_SHAPES)

    def mean_where(keep) -> float:
        chosen = [c for c, k in zip(correct.tolist(), keep) if k]
        return sum(chosen) / len(chosen) if chosen else float("nan")

    return {"all": correct.mean().item(),
            "held_out": mean_where([c in held for c in label_of]),
            "direction_free": mean_where([motion_kind(m) == "direction-free" for _, m in label_of]),
            "direction_pair": mean_where([motion_kind(m) == "direction-pair" for _, m in label_of]),
            "pair_vs_partner": versus if versus is not None else float("nan"),
            "chance": 1.0 / len(classes)}
