"""Video transforms in plain torch (no torchvision).

Every function takes a video tensor ``(..., T, 3, H, W)`` (channels first, any number of leading batch
dimensions, e.g. ``(T, 3, H, W)`` or ``(B, T, 3, H, W)``), uint8 or floating point, and returns the same
layout and dtype unless its docstring says otherwise. Random transforms draw their parameters once per call
from ``generator`` (``None``: torch's global generator), so every frame of a clip (and every item of the
leading dimensions) gets the same crop box, flip, grayscale decision and colour factors; call them once per
video for independent parameters per video.

Resizing uses ``torch.nn.functional.interpolate`` (bilinear, ``antialias=True`` when downscaling). uint8 results
are rounded and clamped to 0..255; float results are not clamped (their value range is the caller's).

These are the test-time views a saved model needs (resize, centre / three crops, normalise). Training augmentation
is `hfvideoclip.data.augment`: it never ships with a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def check_video(video: torch.Tensor, fn: str, any_dtype: bool = False) -> None:
    if not isinstance(video, torch.Tensor):
        raise TypeError(
            f"{fn}: `video` must be a torch.Tensor (..., T, 3, H, W), got {type(video).__name__}."
        )
    if video.ndim < 4 or video.shape[-3] != 3:
        hint = ""
        if video.ndim >= 4 and video.shape[-1] == 3:
            hint = " It looks channels-last (T, H, W, 3): convert with video.permute(0, 3, 1, 2)."
        raise ValueError(
            f"{fn}: `video` must have shape (..., T, 3, H, W) (channels first), got {tuple(video.shape)}.{hint}"
        )
    if not (any_dtype or video.dtype == torch.uint8 or video.is_floating_point()):
        raise TypeError(f"{fn}: `video` must be uint8 or floating point, got {video.dtype}.")


def size_pair(size: int | Sequence[int], fn: str) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        height, width = size, size
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, int) for s in size):
        height, width = int(size[0]), int(size[1])
    else:
        raise ValueError(f"{fn}: `size` must be an int or a pair of ints (height, width), got {size!r}.")
    if height <= 0 or width <= 0:
        raise ValueError(f"{fn}: `size` must be positive, got {size!r}.")
    return height, width


def resize(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of (..., 3, H, W) to (..., 3, height, width); antialiased when a side shrinks.

    uint8 frames on the CPU go through torch's uint8 kernel (fixed point, as torchvision's `Resize` on uint8 tensors;
    fastest on channels-last frames, the layout decoded (T, H, W, 3) frames have once permuted): 8x faster than
    resizing in float32, and within one level of the float result rounded. Elsewhere uint8 is resized in float32
    and rounded back.
    """
    in_height, in_width = video.shape[-2:]
    if (in_height, in_width) == (height, width):
        return video
    lead = video.shape[:-3]
    flat = video.reshape(-1, *video.shape[-3:])
    native = flat.dtype in (torch.float32, torch.float64) or (flat.dtype == torch.uint8 and flat.device.type == "cpu")
    work = flat if native else flat.float()
    out = F.interpolate(
        work,
        size=(height, width),
        mode="bilinear",
        align_corners=False,
        antialias=height < in_height or width < in_width,
    )
    if out.dtype == video.dtype:
        return out.reshape(*lead, 3, height, width)
    if video.dtype == torch.uint8:
        out = out.round_().clamp_(0, 255)
    return out.to(video.dtype).reshape(*lead, 3, height, width)


def resize_shorter_side(video: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so that the shorter side is ``size``, keeping the aspect ratio.

    ``(..., T, 3, H, W) -> (..., T, 3, H', W')`` with ``min(H', W') = size``; the longer side is
    ``int(size * long / short)`` (truncated, as torchvision does).
    """
    check_video(video, "resize_shorter_side")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"resize_shorter_side: `size` must be a positive int, got {size!r}.")
    height, width = video.shape[-2:]
    if height <= width:
        new_height, new_width = size, int(size * width / height)
    else:
        new_height, new_width = int(size * height / width), size
    return resize(video, new_height, new_width)


def crop(video: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return video[..., top : top + height, left : left + width]


def _check_fits(video: torch.Tensor, height: int, width: int, fn: str) -> None:
    in_height, in_width = video.shape[-2:]
    if height > in_height or width > in_width:
        raise ValueError(
            f"{fn}: crop {height}x{width} is larger than the frames ({in_height}x{in_width}); "
            f"resize first, e.g. resize_shorter_side(video, {max(height, width)})."
        )


def center_crop(video: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
    """Crop the centre ``size`` (int or (height, width)) of every frame: ``(..., T, 3, H, W) -> (..., T, 3, h, w)``.

    The top-left corner is ``round((H - h) / 2), round((W - w) / 2)``. The crop must fit in the frames.
    """
    check_video(video, "center_crop", any_dtype=True)
    height, width = size_pair(size, "center_crop")
    _check_fits(video, height, width, "center_crop")
    in_height, in_width = video.shape[-2:]
    top = int(round((in_height - height) / 2.0))
    left = int(round((in_width - width) / 2.0))
    return crop(video, top, left, height, width)


def three_crop(video: torch.Tensor, size: int) -> torch.Tensor:
    """Three ``size x size`` crops along the longer side (start, centre, end), the shorter side centred.

    ``(..., T, 3, H, W) -> (..., 3, T, 3, size, size)`` (the new dimension holds the three views). This is the
    test-time "3 crops" view of PySlowFast and ViFi-CLIP; call ``resize_shorter_side(video, size)`` first so that
    the crops cover the whole shorter side.
    """
    check_video(video, "three_crop", any_dtype=True)
    height, width = size_pair(size, "three_crop")
    if height != width:
        raise ValueError(f"three_crop: `size` must be a single int (square crops), got {size!r}.")
    _check_fits(video, size, size, "three_crop")
    in_height, in_width = video.shape[-2:]
    top = int(round((in_height - size) / 2.0))
    left = int(round((in_width - size) / 2.0))
    if in_height > in_width:
        boxes = [(0, left), (top, left), (in_height - size, left)]
    else:
        boxes = [(top, 0), (top, left), (top, in_width - size)]
    return torch.stack([crop(video, t, s, size, size) for t, s in boxes], dim=-5)


def normalize(video: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std``; returns floating point ``(..., T, 3, H, W)``.

    uint8 input is scaled to [0, 1] first (``x / 255``), folded into one multiply-add per element
    (``x * (1 / (255 std)) - mean / std``: one pass after the conversion instead of three); floating-point input is used
    as is, so pass it already in the range that ``mean`` and ``std`` refer to (CLIP's are for [0, 1]).
    """
    check_video(video, "normalize")
    mean_t = torch.as_tensor(mean, dtype=torch.float64).flatten()
    std_t = torch.as_tensor(std, dtype=torch.float64).flatten()
    if mean_t.numel() != 3 or std_t.numel() != 3:
        raise ValueError(
            f"normalize: `mean` and `std` need 3 values (R, G, B), got {list(mean)} and {list(std)}."
        )
    if bool((std_t <= 0).any()):
        raise ValueError(f"normalize: every `std` must be positive, got {list(std)}.")
    if video.dtype == torch.uint8:
        scale = (1.0 / (255.0 * std_t)).to(torch.float32).view(3, 1, 1)
        shift = (-mean_t / std_t).to(torch.float32).view(3, 1, 1)
        return video.float().mul_(scale).add_(shift)
    mean_t = mean_t.to(video.dtype).view(3, 1, 1)
    std_t = std_t.to(video.dtype).view(3, 1, 1)
    return (video - mean_t) / std_t
