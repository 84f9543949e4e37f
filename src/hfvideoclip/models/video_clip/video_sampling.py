"""Which frames to take from a video: TSN-style segment sampling.

The video's ``num_total`` frames are cut into ``num_frames`` equal segments (segment length
``num_total / num_frames``, a float) and one frame is taken from each segment:

- test (``train=False``): clip ``c`` of ``num_clips`` takes the frame at relative offset
  ``(c + 0.5) / num_clips`` inside every segment, so one clip takes the segment centres and several clips
  spread evenly over each segment (80 frames, 8 per clip, 1 clip -> 5, 15, ..., 75);
- train (``train=True``): every segment gets its own uniform random offset from ``generator``.

Frame ``i`` of a clip is ``floor(segment_length * (i + offset))``. A video shorter than ``num_frames``
repeats frames (segments shorter than one frame map several segments to the same frame).
"""

from __future__ import annotations

import torch


def segment_frame_indices(
    num_total: int,
    num_frames: int,
    *,
    num_clips: int = 1,
    train: bool = False,
    generator: torch.Generator | None = None,
) -> torch.LongTensor:
    """Frame indices of ``num_clips`` clips of ``num_frames`` frames each, one frame per equal segment.

    Args:
        num_total: number of frames in the video (> 0).
        num_frames: frames per clip (> 0).
        num_clips: clips per video; at test time they take evenly spread offsets inside each segment,
            in training each clip draws its own random offsets.
        train: random offset per segment (training) instead of the fixed test-time offsets.
        generator: random source for ``train=True``; ``None`` uses torch's global generator.

    Returns:
        int64 tensor ``(num_clips, num_frames)`` of indices in ``[0, num_total)``, non-decreasing along each clip.
    """
    for name, value in (("num_total", num_total), ("num_frames", num_frames), ("num_clips", num_clips)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"`{name}` must be an int, got {type(value).__name__} ({value!r}).")
    if num_total <= 0:
        raise ValueError(
            f"`num_total`={num_total}: the video has no frames to sample from; "
            "check that the file decodes (hfvideoclip.models.video_clip.video_decoding.count_frames)."
        )
    if num_frames <= 0:
        raise ValueError(f"`num_frames`={num_frames}: ask for at least one frame per clip, e.g. 8.")
    if num_clips <= 0:
        raise ValueError(f"`num_clips`={num_clips}: ask for at least one clip, e.g. 1 (or 3 for testing).")

    if train:
        # floor((i + u) * num_total / num_frames) with u ~ U[0, 1) per clip and segment.
        offsets = torch.rand((num_clips, num_frames), generator=generator, dtype=torch.float64)
        starts = torch.arange(num_frames, dtype=torch.float64)
        indices = torch.floor((starts + offsets) * (num_total / num_frames)).long()
    else:
        # Exact integer form of floor((i + (c + 0.5) / num_clips) * num_total / num_frames).
        i = torch.arange(num_frames, dtype=torch.int64)
        c = torch.arange(num_clips, dtype=torch.int64)[:, None]
        numerator = (2 * num_clips * i + 2 * c + 1) * num_total
        indices = torch.div(numerator, 2 * num_clips * num_frames, rounding_mode="floor")
    return indices.clamp_(0, num_total - 1)
