"""Training augmentation in plain torch: random resized crop, horizontal flip, colour jitter and grayscale, drawn
from a `torch.Generator`, through one function, `augment_clip(clip, AugmentationConfig(...), generator)`.

Video layout as in `hfvideoclip.models.video_clip.video_transforms` (``(..., T, 3, H, W)``, uint8 or float): the
parameters are drawn once per call, so every frame of a clip gets the same crop box, flip, grayscale decision and
colour factors. `augmented_view` is the collator's training view of one decoded clip. This module is training
code: it never ships with a saved model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..models.video_clip.video_transforms import center_crop, check_video, crop, normalize, resize, size_pair

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights, as PIL and torchvision use


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return float(low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64))


def random_resized_crop_params(
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    generator: torch.Generator | None = None,
) -> tuple[int, int, int, int]:
    """The box ``(top, left, box_height, box_width)`` that ``random_resized_crop`` cuts from ``height x width`` frames.

    Inception-style: up to 10 tries of an area fraction ~ U(scale) and a log-uniform aspect ratio (w / h) in
    ``ratio``; if none fits, the largest centred box with the aspect ratio clamped to ``ratio``.
    """
    if not (0 < scale[0] <= scale[1]):
        raise ValueError(
            f"random_resized_crop: `scale` must be (min, max) with 0 < min <= max, got {scale!r}."
        )
    if not (0 < ratio[0] <= ratio[1]):
        raise ValueError(
            f"random_resized_crop: `ratio` must be (min, max) with 0 < min <= max, got {ratio!r}."
        )
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target_area = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_low, log_high, generator))
        box_width = int(round(math.sqrt(target_area * aspect)))
        box_height = int(round(math.sqrt(target_area / aspect)))
        if 0 < box_width <= width and 0 < box_height <= height:
            top = int(torch.randint(0, height - box_height + 1, (), generator=generator))
            left = int(torch.randint(0, width - box_width + 1, (), generator=generator))
            return top, left, box_height, box_width
    in_ratio = width / height
    if in_ratio < ratio[0]:
        box_width, box_height = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        box_height, box_width = height, int(round(height * ratio[1]))
    else:
        box_width, box_height = width, height
    return (height - box_height) // 2, (width - box_width) // 2, box_height, box_width


def random_resized_crop(
    video: torch.Tensor,
    size: int | Sequence[int],
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop one random box (area fraction in ``scale``, aspect ratio in ``ratio``) and resize it to ``size``.

    ``(..., T, 3, H, W) -> (..., T, 3, h, w)`` with ``(h, w) = size``; the same box for every frame.
    See ``random_resized_crop_params`` for how the box is drawn.
    """
    check_video(video, "random_resized_crop")
    out_height, out_width = size_pair(size, "random_resized_crop")
    top, left, box_height, box_width = random_resized_crop_params(
        video.shape[-2], video.shape[-1], scale, ratio, generator
    )
    return resize(crop(video, top, left, box_height, box_width), out_height, out_width)


def _coin(p: float, generator: torch.Generator | None, fn: str) -> bool:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: probability `p` must be in [0, 1], got {p!r}.")
    return bool(torch.rand((), generator=generator) < p)


def random_horizontal_flip(
    video: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mirror every frame left-right with probability ``p`` (one draw per call): same shape and dtype."""
    check_video(video, "random_horizontal_flip", any_dtype=True)
    return video.flip(-1) if _coin(p, generator, "random_horizontal_flip") else video


def to_grayscale(video: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` repeated on 3 channels: ``(..., T, 3, H, W)``, same dtype."""
    check_video(video, "to_grayscale")
    work = video.float() if video.dtype == torch.uint8 else video
    weights = torch.tensor(_LUMA, dtype=work.dtype).view(3, 1, 1)
    gray = (work * weights).sum(dim=-3, keepdim=True)
    if video.dtype == torch.uint8:
        gray = gray.round_().clamp_(0, 255).to(torch.uint8)
    return gray.expand_as(video).contiguous()


def random_grayscale(
    video: torch.Tensor, p: float = 0.2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``to_grayscale`` with probability ``p`` (one draw per call): same shape and dtype."""
    check_video(video, "random_grayscale")
    return to_grayscale(video) if _coin(p, generator, "random_grayscale") else video


def _rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> HSV, hue in [0, 1)."""
    r, g, b = rgb.unbind(dim=-3)
    maxc = rgb.amax(dim=-3)
    minc = rgb.amin(dim=-3)
    delta = maxc - minc
    saturation = delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc))
    safe_delta = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe_delta, (maxc - g) / safe_delta, (maxc - b) / safe_delta
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.remainder(hue / 6.0, 1.0)
    return torch.stack((hue, saturation, maxc), dim=-3)


def _hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) HSV (hue in [0, 1)) -> RGB in [0, 1]."""
    hue, saturation, value = hsv.unbind(dim=-3)
    sector = torch.floor(hue * 6.0)
    frac = hue * 6.0 - sector
    sector = torch.remainder(sector, 6).long()
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * frac)
    t = value * (1.0 - saturation * (1.0 - frac))
    table = torch.stack(
        (
            torch.stack((value, q, p, p, t, value), dim=0),
            torch.stack((t, value, value, q, p, p), dim=0),
            torch.stack((p, p, t, value, value, q), dim=0),
        ),
        dim=0,
    )  # (3 channels, 6 sectors, ...)
    index = sector.unsqueeze(0).unsqueeze(0).expand(3, 1, *sector.shape)
    rgb = table.gather(1, index).squeeze(1)  # (3, ..., H, W)
    return rgb.movedim(0, -3)


def color_jitter(
    video: torch.Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    *,
    p: float = 0.8,
    max_value: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue changes in random order, applied with probability ``p``.

    Factors are drawn once per call (the same for all frames): brightness, contrast and saturation factors
    ~ U[max(0, 1 - x), 1 + x], hue shift ~ U[-hue, hue] (fraction of a turn, ``hue <= 0.5``); 0 disables one.
    Contrast blends each frame with the mean of its own grayscale. ``max_value`` is the white level: by default
    255 for uint8 and 1.0 for floating point (pass 255.0 for float videos in [0, 255]). ``(..., T, 3, H, W)``,
    same dtype. Defaults are SimCLR's (0.4, 0.4, 0.4, 0.1, p=0.8), as used by MSTA.
    """
    check_video(video, "color_jitter")
    for name, value in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if value < 0:
            raise ValueError(f"color_jitter: `{name}` must be >= 0, got {value!r}.")
    if not 0.0 <= hue <= 0.5:
        raise ValueError(f"color_jitter: `hue` must be in [0, 0.5], got {hue!r}.")
    # Always draw the same number of values, so the generator's state after the call does not depend on p.
    apply = _coin(p, generator, "color_jitter")
    order = torch.randperm(4, generator=generator).tolist()
    factors = [
        _uniform(max(0.0, 1.0 - brightness), 1.0 + brightness, generator),
        _uniform(max(0.0, 1.0 - contrast), 1.0 + contrast, generator),
        _uniform(max(0.0, 1.0 - saturation), 1.0 + saturation, generator),
        _uniform(-hue, hue, generator),
    ]
    enabled = [brightness > 0, contrast > 0, saturation > 0, hue > 0]
    if not apply or not any(enabled):
        return video
    white = float(max_value) if max_value is not None else (255.0 if video.dtype == torch.uint8 else 1.0)
    x = video.float() / white if video.dtype == torch.uint8 else video / white
    luma = torch.tensor(_LUMA, dtype=x.dtype).view(3, 1, 1)
    for op in order:
        if not enabled[op]:
            continue
        factor = factors[op]
        if op == 0:
            x = (x * factor).clamp(0.0, 1.0)
        elif op == 1:
            mean = (x * luma).sum(dim=-3, keepdim=True).mean(dim=(-2, -1), keepdim=True)
            x = (factor * x + (1.0 - factor) * mean).clamp(0.0, 1.0)
        elif op == 2:
            gray = (x * luma).sum(dim=-3, keepdim=True)
            x = (factor * x + (1.0 - factor) * gray).clamp(0.0, 1.0)
        else:
            hsv = _rgb_to_hsv(x)
            hsv = torch.stack(
                (torch.remainder(hsv[..., 0, :, :] + factor, 1.0), hsv[..., 1, :, :], hsv[..., 2, :, :]),
                dim=-3,
            )
            x = _hsv_to_rgb(hsv)
    x = x * white
    if video.dtype == torch.uint8:
        return x.round_().clamp_(0, 255).to(torch.uint8)
    return x.to(video.dtype)


# ------------------------------------------------------------------------------------------ training augmentation
def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class AugmentationConfig:
    """Spatial augmentation of a training clip, applied by ``augment_clip`` with the same parameters for every frame.

    Defaults are the project's: design section 5 (ViFi-CLIP / Open-VCLIP / FROSTER recipes) with the crop area
    raised from Inception's 0.08 to 0.4, and colour jitter off (MSTA turns it on with ``color_jitter=0.8``).
    Probabilities are in [0, 1]; 0 disables a transform.
    """

    crop_min_area: float = field(default=0.4, metadata={
        "help": "Smallest area fraction of the random resized crop, in (0, 1]; 1.0 disables the crop. 0.4 rather "
                "than Inception's 0.08: small crops lose the actor, and the toy world's targets are a few pixels "
                "wide."})
    crop_ratio: tuple[float, float] = field(default=(3.0 / 4.0, 4.0 / 3.0), metadata={
        "help": "(min, max) aspect ratio (width / height) of the crop box, drawn log-uniformly."})
    horizontal_flip: float = field(default=0.5, metadata={
        "help": "Probability of mirroring the clip left-right; 0 disables it (direction-sensitive classes such as "
                "'swiping left')."})
    grayscale: float = field(default=0.2, metadata={"help": "Probability of turning the clip to grayscale (BT.601)."})
    color_jitter: float = field(default=0.0, metadata={
        "help": "Probability of colour jitter (brightness, contrast, saturation, hue in random order); MSTA: 0.8."})
    brightness: float = field(default=0.4, metadata={"help": "Brightness factor ~ U[max(0, 1 - x), 1 + x]."})
    contrast: float = field(default=0.4, metadata={"help": "Contrast factor ~ U[max(0, 1 - x), 1 + x]."})
    saturation: float = field(default=0.4, metadata={"help": "Saturation factor ~ U[max(0, 1 - x), 1 + x]."})
    hue: float = field(default=0.1, metadata={"help": "Hue shift ~ U[-x, x] in turns, x in [0, 0.5]."})

    def __post_init__(self):
        name = "AugmentationConfig"
        if not _is_number(self.crop_min_area) or not 0.0 < self.crop_min_area <= 1.0:
            raise ValueError(
                f"{name}.crop_min_area must lie in (0, 1] (smallest area fraction of the random resized crop; 1.0 "
                f"disables the crop), got {self.crop_min_area!r}."
            )
        ratio = self.crop_ratio
        if (
            not isinstance(ratio, Sequence)
            or isinstance(ratio, str)
            or len(ratio) != 2
            or not all(_is_number(r) for r in ratio)
            or not 0.0 < ratio[0] <= ratio[1]
        ):
            raise ValueError(
                f"{name}.crop_ratio must be (min, max) aspect ratios (width / height) with 0 < min <= max, e.g. "
                f"(3/4, 4/3), got {ratio!r}."
            )
        self.crop_ratio = (float(ratio[0]), float(ratio[1]))
        for key in ("horizontal_flip", "grayscale", "color_jitter"):
            value = getattr(self, key)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}.{key} is a probability and must lie in [0, 1] (0 disables it), got {value!r}.")
        for key in ("brightness", "contrast", "saturation"):
            value = getattr(self, key)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name}.{key} is a jitter strength and must be >= 0 (0 disables it), got {value!r}.")
        if not _is_number(self.hue) or not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"{name}.hue is a shift in turns and must lie in [0, 0.5], got {self.hue!r}.")
        if self.color_jitter > 0 and not any((self.brightness, self.contrast, self.saturation, self.hue)):
            raise ValueError(
                f"{name}.color_jitter={self.color_jitter} but brightness, contrast, saturation and hue are all 0, so "
                "the jitter would change nothing: set a strength or color_jitter=0."
            )


def augment_clip(
    clip: torch.Tensor,
    config: AugmentationConfig,
    generator: torch.Generator | None = None,
    *,
    size: int | Sequence[int] | None = None,
    max_value: float | None = None,
) -> torch.Tensor:
    """Augment one clip for training: random resized crop, horizontal flip, colour jitter, grayscale, in this order
    (SimCLR's and MSTA's order: grayscale last, so grayscale clips stay gray).

    Every parameter (crop box, flip, colour factors, grayscale) is drawn once per call from ``generator``, so every
    frame of the clip, and every item of any leading dimension, is transformed alike: call it once per clip.

    Args:
        clip: ``(..., T, 3, H, W)``, uint8 or floating point.
        config: what to apply (`AugmentationConfig`).
        generator: random source (``None``: torch's global generator).
        size: output size, int or (height, width); default the clip's own ``(H, W)``. The crop box is cut from the
            input and resized once to ``size``; with the crop disabled (``crop_min_area=1``) the whole clip is resized
            to ``size``.
        max_value: white level for colour jitter (default 255 for uint8, 1.0 for floating point; pass 255.0 for
            float clips in [0, 255]).

    Returns:
        ``(..., T, 3, h, w)``, the input's dtype.
    """
    check_video(clip, "augment_clip")
    if not isinstance(config, AugmentationConfig):
        raise TypeError(f"augment_clip: `config` must be an AugmentationConfig, got {type(config).__name__}.")
    height, width = size_pair(size, "augment_clip") if size is not None else tuple(clip.shape[-2:])
    if config.crop_min_area < 1.0:
        clip = random_resized_crop(
            clip, (height, width), scale=(config.crop_min_area, 1.0), ratio=config.crop_ratio, generator=generator
        )
    else:
        clip = resize(clip, height, width)
    clip = random_horizontal_flip(clip, config.horizontal_flip, generator=generator)
    if config.color_jitter > 0:
        clip = color_jitter(
            clip,
            config.brightness,
            config.contrast,
            config.saturation,
            config.hue,
            p=config.color_jitter,
            max_value=max_value,
            generator=generator,
        )
    return random_grayscale(clip, config.grayscale, generator=generator)


def augmented_view(video_processor, clip: torch.Tensor, config: AugmentationConfig,
                   generator: torch.Generator | None) -> torch.Tensor:
    """The training view of one decoded clip: uint8 (T, H, W, 3) -> float (1, T, 3, crop, crop), normalised.

    `augment_clip` on the region of the frames that `video_processor`'s test-time centre crop covers, cut at the
    decoded resolution and resized once to `crop_size` (the random resized crop is a sub-box of the test view,
    without upsampling an already downscaled frame). On uint8 frames: the crop's resize takes torch's uint8 kernel;
    colour jitter and grayscale round to uint8 as torchvision's do on PIL images."""
    video = clip.permute(0, 3, 1, 2)  # (T, 3, H, W), values 0..255
    height, width = video.shape[-2:]
    side = max(1, min(int(round(video_processor.crop_size * min(height, width) / video_processor.size)), height, width))
    views = augment_clip(center_crop(video, side), config, generator, size=video_processor.crop_size,
                         max_value=255.0).unsqueeze(0)
    return normalize(views, video_processor.image_mean, video_processor.image_std)
