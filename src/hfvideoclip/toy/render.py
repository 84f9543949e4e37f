"""Procedural rendering of toy clips as uint8 tensors (T, H, W, 3).

A clip is a static textured background, 1-2 grey distractor shapes drifting or oscillating on their own, and
one coloured target shape that performs the clip's motion. Everything random (positions, sizes, speeds,
phases, texture, colour jitter, distractors) comes from the seed, so ``render_clip(spec, seed)`` is a pure
function. Trajectories are centred at a random place, so the target's position or size in any single frame
says nothing about the direction it moves in.

Shapes are drawn with 3x3 supersampling (anti-aliased edges), which keeps them recognisable at 32 px.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
import torch

from .world import MOTIONS, PALETTE, SHAPES, ClipSpec

DEFAULT_NUM_FRAMES = 16
DEFAULT_SIZE = 64
_UPRIGHT_JITTER = np.deg2rad(15.0)
_SUPERSAMPLE = 3

# ---------------------------------------------------------------------------------------------------- shapes


def _polygon(radii: list[float], start_deg: float = 90.0) -> np.ndarray:
    n = len(radii)
    angles = np.deg2rad(start_deg) + 2 * np.pi * np.arange(n) / n
    return np.stack([np.asarray(radii) * np.cos(angles), np.asarray(radii) * np.sin(angles)], axis=1)


_TRIANGLE = _polygon([1.08] * 3)
_TRIANGLE = _TRIANGLE - _TRIANGLE.mean(0)
_STAR = _polygon([1.08, 0.42] * 5)


def _inside_polygon(u: np.ndarray, v: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points."""
    inside = np.zeros(u.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        crosses = (y1 > v) != (y2 > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (v - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (u < x_at)
    return inside


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership in the unit-radius shape; (u, v) are object coordinates with v pointing up."""
    if shape == "circle":
        return u * u + v * v <= 0.88**2
    if shape == "triangle":
        return _inside_polygon(u, v, _TRIANGLE)
    if shape == "star":
        return _inside_polygon(u, v, _STAR)
    if shape == "cross":
        a, b = np.abs(u), np.abs(v)
        return ((a <= 0.32) & (b <= 0.95)) | ((b <= 0.32) & (a <= 0.95))
    if shape == "bar":
        return (np.abs(u) <= 1.05) & (np.abs(v) <= 0.36)
    if shape == "crescent":
        return (u * u + v * v <= 0.95**2) & ((u - 0.62) ** 2 + v * v > 0.7**2)
    raise ValueError(f"Unknown toy shape {shape!r}.")


_SPRITE_RES = 512
_SPRITE_REACH = 1.4
_SPRITES: dict[str, np.ndarray] = {}


def _sprite(shape: str) -> np.ndarray:
    """Boolean membership bitmap of the unit-radius shape over [-1.4, 1.4]^2 (row 0 = top), built once."""
    if shape not in _SPRITES:
        axis = (np.arange(_SPRITE_RES) + 0.5) / _SPRITE_RES * 2 * _SPRITE_REACH - _SPRITE_REACH
        u, v = np.meshgrid(axis, -axis)
        _SPRITES[shape] = _inside(shape, u, v)
    return _SPRITES[shape]


def _draw(canvas: np.ndarray, shape: str, cx: float, cy: float, radius: float, angle: float,
          colour: np.ndarray, alpha: float = 1.0) -> None:
    """Alpha-composite an anti-aliased shape onto ``canvas`` (H, W, 3 float in [0, 1]) in place."""
    if alpha <= 0 or radius <= 0:
        return
    height, width = canvas.shape[:2]
    reach = radius * 1.35
    x0, x1 = max(int(math.floor(cx - reach)), 0), min(int(math.ceil(cx + reach)), width)
    y0, y1 = max(int(math.floor(cy - reach)), 0), min(int(math.ceil(cy + reach)), height)
    if x0 >= x1 or y0 >= y1:
        return
    ss = _SUPERSAMPLE
    xs = (x0 + (np.arange((x1 - x0) * ss, dtype=np.float32) + 0.5) / ss - cx)
    ys = (y0 + (np.arange((y1 - y0) * ss, dtype=np.float32) + 0.5) / ss - cy)
    # object coordinates as sprite indices (column from u, row from -v: the sprite's v axis points up)
    k = _SPRITE_RES / (2 * _SPRITE_REACH * radius)
    cos, sin = math.cos(angle) * k, math.sin(angle) * k
    mid = _SPRITE_RES / 2
    col = ((cos * xs)[None, :] + (sin * ys + mid)[:, None]).astype(np.int32)
    row = ((-sin * xs)[None, :] + (cos * ys + mid)[:, None]).astype(np.int32)
    np.clip(col, 0, _SPRITE_RES - 1, out=col)
    np.clip(row, 0, _SPRITE_RES - 1, out=row)
    mask = _sprite(shape)[row, col]
    coverage = mask.reshape(y1 - y0, ss, x1 - x0, ss).sum(axis=(1, 3), dtype=np.float32)
    coverage = coverage[..., None] * (alpha / (ss * ss))
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - coverage
    region += coverage * colour


# ------------------------------------------------------------------------------------------------ backgrounds


def _tone(hue: float, sat: float, val: float) -> np.ndarray:
    return np.asarray(colorsys.hsv_to_rgb(hue % 1.0, sat, val), dtype=np.float32)


def _background(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    scale = size / 64.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    hue = rng.uniform()
    val = rng.uniform(0.18, 0.36)
    tone_a = _tone(hue, rng.uniform(0.08, 0.35), val)
    tone_b = _tone(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.08, 0.35), val + rng.uniform(0.06, 0.14))
    if name == "plain":
        p = np.zeros_like(x)
        for _ in range(3):
            theta, period = rng.uniform(0, 2 * np.pi), rng.uniform(24, 64) * scale
            p += np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period + rng.uniform(0, 2 * np.pi))
        p = 0.5 + 0.12 * p
    elif name == "stripes":
        theta, period = rng.uniform(0, np.pi), rng.uniform(8, 16) * scale
        s = np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period + rng.uniform(0, 2 * np.pi))
        p = np.clip(s * 3.0, -1, 1) * 0.5 + 0.5
    elif name == "checkers":
        cell = rng.uniform(6, 12) * scale
        ox, oy = rng.uniform(0, cell, size=2)
        p = ((np.floor((x + ox) / cell) + np.floor((y + oy) / cell)) % 2).astype(np.float32)
    elif name == "dots":
        spacing, radius = rng.uniform(8, 12) * scale, rng.uniform(1.5, 3.0) * scale
        ox, oy = rng.uniform(0, spacing, size=2)
        ddx = (x + ox) % spacing - spacing / 2
        ddy = (y + oy) % spacing - spacing / 2
        p = np.clip(radius + 0.5 - np.sqrt(ddx * ddx + ddy * ddy), 0, 1)
    elif name == "grid":
        spacing, width = rng.uniform(8, 14) * scale, max(1.0, 1.5 * scale)
        ox, oy = rng.uniform(0, spacing, size=2)
        near = np.minimum((x + ox) % spacing, (y + oy) % spacing)
        p = (near < width).astype(np.float32)
    elif name == "waves":
        period, amp, wave = rng.uniform(9, 15) * scale, rng.uniform(2, 5) * scale, rng.uniform(16, 32) * scale
        s = np.sin(2 * np.pi * (y + amp * np.sin(2 * np.pi * x / wave + rng.uniform(0, 2 * np.pi))) / period)
        p = np.clip(s * 2.0, -1, 1) * 0.5 + 0.5
    else:
        raise ValueError(f"Unknown toy background {name!r}.")
    image = tone_a * (1.0 - p[..., None]) + tone_b * p[..., None]
    image += rng.normal(0.0, 0.012, size=image.shape).astype(np.float32)
    return image.astype(np.float32)


# ------------------------------------------------------------------------------------------------ trajectories


def _trajectory(motion: str, t: np.ndarray, size: int, radius: float, rng: np.random.Generator):
    """Per-frame centre x, y, scale, angle and visibility of the target for ``motion``; t in [0, 1]."""
    n = len(t)
    angle0 = rng.uniform(-_UPRIGHT_JITTER, _UPRIGHT_JITTER)  # shapes stand upright unless they rotate
    scale = np.ones(n)
    angle = np.full(n, angle0)
    visible = np.ones(n)
    margin = radius * 1.05

    def centre(extent_x: float = 0.0, extent_y: float = 0.0) -> tuple[float, float]:
        lo_x, hi_x = margin + extent_x / 2, size - margin - extent_x / 2
        lo_y, hi_y = margin + extent_y / 2, size - margin - extent_y / 2
        return rng.uniform(lo_x, max(lo_x, hi_x)), rng.uniform(lo_y, max(lo_y, hi_y))

    if motion == "still":
        cx, cy = centre()
        x, y = np.full(n, cx), np.full(n, cy)
    elif motion == "rotating":
        cx, cy = centre()
        x, y = np.full(n, cx), np.full(n, cy)
        per_frame = np.deg2rad(rng.uniform(10, 18)) * rng.choice([-1.0, 1.0])
        angle = rng.uniform(0, 2 * np.pi) + per_frame * np.arange(n)
    elif motion == "blinking":
        cx, cy = centre()
        x, y = np.full(n, cx), np.full(n, cy)
        period, phase = int(rng.integers(2, 4)), int(rng.integers(0, 6))
        visible = (((np.arange(n) + phase) // period) % 2 == 0).astype(float)
        if visible.sum() == 0:
            visible[0] = 1.0
    elif motion == "side to side":
        amp = rng.uniform(0.14, 0.2) * size
        cx, cy = centre(extent_x=2 * amp)
        freq, phase = rng.uniform(1.0, 1.6), rng.uniform(0, 2 * np.pi)
        x, y = cx + amp * np.sin(2 * np.pi * freq * t + phase), np.full(n, cy)
    elif motion == "bouncing":
        height = rng.uniform(0.15, 0.24) * size
        cx, cy = centre(extent_y=height)
        floor = cy + height / 2
        freq, phase = rng.uniform(1.5, 2.5), rng.uniform(0, np.pi)
        x, y = np.full(n, cx), floor - height * np.abs(np.sin(np.pi * freq * t + phase))
    elif motion in ("moving left", "moving right", "moving up", "moving down"):
        dist = rng.uniform(0.3, 0.42) * size
        horizontal = motion in ("moving left", "moving right")
        sign = 1.0 if motion in ("moving right", "moving down") else -1.0
        cx, cy = centre(extent_x=dist if horizontal else 0.0, extent_y=0.0 if horizontal else dist)
        offset = sign * dist * (t - 0.5)
        x = cx + offset if horizontal else np.full(n, cx)
        y = np.full(n, cy) if horizontal else cy + offset
    elif motion in ("growing", "shrinking"):
        ratio = rng.uniform(1.8, 2.2)
        sign = 1.0 if motion == "growing" else -1.0
        scale = 0.95 * np.exp(sign * np.log(ratio) * (t - 0.5))
        grow = 2 * radius * max(scale.max() - 1.0, 0.0)
        cx, cy = centre(extent_x=grow, extent_y=grow)
        x, y = np.full(n, cx), np.full(n, cy)
    else:
        raise ValueError(f"Unknown toy motion {motion!r}; use one of {list(MOTIONS)}.")
    return x, y, scale, angle, visible


def _distractor_path(t: np.ndarray, size: int, rng: np.random.Generator):
    kind = rng.choice(["static", "drift", "oscillate"])
    cx, cy = rng.uniform(0.1, 0.9, size=2) * size
    n = len(t)
    if kind == "static":
        return np.full(n, cx), np.full(n, cy)
    if kind == "drift":
        theta, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.45) * size
        return cx + np.cos(theta) * dist * (t - 0.5), cy + np.sin(theta) * dist * (t - 0.5)
    theta, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.12) * size
    wave = amp * np.sin(2 * np.pi * rng.uniform(0.8, 1.8) * t + rng.uniform(0, 2 * np.pi))
    return cx + np.cos(theta) * wave, cy + np.sin(theta) * wave


# ------------------------------------------------------------------------------------------------------ clips


def _as_spec(spec) -> ClipSpec:
    if isinstance(spec, ClipSpec):
        return spec
    if isinstance(spec, dict):
        return ClipSpec(**spec)
    raise ValueError(f"`spec` must be a ClipSpec or a dict of its fields, got {type(spec).__name__}.")


VIDEO_TRAIL_STRENGTH = 0.5
"""Motion-trail strength of the protocols' videos (generator version 3; version 4 adds the blinking exposure): half
the pretraining frames' 0.6-1.0, so the teacher's motion knowledge transfers, but less strongly than on its own
frames."""
TRAIL_EXPOSURE = 5.0
"""Frames of motion a trail spans on each side of the drawn shape (a long exposure: the toy world's shapes move
1-6 px per frame at 64 px, and the trail has to survive resizing to the tiny CLIP's 32 px)."""
TRAIL_OFFSETS: tuple[float, ...] = (1 / 3, 2 / 3, 1.0)
"""Ghost positions, as fractions of the exposure, before and after the drawn frame (both sides: direction-blind)."""
TRAIL_WEIGHTS: tuple[float, ...] = (0.55, 0.35, 0.2)
"""Opacity of each ghost pair relative to ``trail_strength``, fading with distance in time."""
_TRAIL_MAX_SHIFT = 0.8  # longest trail, in radii of the shape
_TRAIL_MAX_TURN = np.deg2rad(40.0)
_TRAIL_MAX_SCALE = 0.3


def _central_difference(values: np.ndarray) -> np.ndarray:
    """Per-frame rate of change (per frame): central differences inside, one-sided at the ends."""
    return np.gradient(np.asarray(values, dtype=np.float64)) if len(values) > 1 else np.zeros(len(values))


def _trail(x, y, scale, angle, k: int, radius: float) -> list[tuple[float, float, float, float, float]]:
    """Ghosts of frame ``k``: (x, y, scale, angle, weight), placed +-offset along the local rate of change.

    The ghosts sit symmetrically around the drawn shape, like motion blur in a photograph: a still shows that the
    shape moves (and along which axis, or that it turns or changes size) but not which way, so the two members of
    a direction pair look alike in any single frame. Trail lengths are capped (`_TRAIL_MAX_*`) so fast motions
    smear no more than 0.8 radii, 40 degrees or 30 % of the size.
    """
    vx, vy, vs, va = (_central_difference(v)[k] * TRAIL_EXPOSURE for v in (x, y, scale, angle))
    shift = math.hypot(vx, vy)
    if shift > _TRAIL_MAX_SHIFT * radius:
        vx, vy = vx * _TRAIL_MAX_SHIFT * radius / shift, vy * _TRAIL_MAX_SHIFT * radius / shift
    # sizes change slowly (x2 over a clip): a longer exposure for them, or the halo would vanish at 32 px
    vs = 2.0 * vs
    va, vs = float(np.clip(va, -_TRAIL_MAX_TURN, _TRAIL_MAX_TURN)), float(np.clip(vs, -_TRAIL_MAX_SCALE,
                                                                                   _TRAIL_MAX_SCALE))
    if max(math.hypot(vx, vy) / max(radius, 1e-6), abs(va), abs(vs)) < 0.02:
        return []
    ghosts = []
    for offset, weight in zip(TRAIL_OFFSETS, TRAIL_WEIGHTS):
        for sign in (-1.0, 1.0):
            d = sign * offset
            ghosts.append((x[k] + vx * d, y[k] + vy * d, max(scale[k] + vs * d, 0.05), angle[k] + va * d, weight))
    return ghosts


def _exposed_opacity(visible: np.ndarray, k: int, trail_strength: float) -> float:
    """Opacity of the target in frame ``k`` under the long exposure that draws trails: a mix, by
    ``trail_strength``, of its visibility in that frame and its mean visibility over +-`TRAIL_EXPOSURE` frames.

    Only a blinking target changes (every other motion is visible throughout): a long exposure of a shape that
    switches on and off shows it half-transparent, in the frames it is off as well as on, the static trace of
    blinking that a still can show (the way trails are the trace of moving).
    """
    if visible.min() >= 1.0:
        return 1.0
    reach = int(TRAIL_EXPOSURE)
    window = visible[max(0, k - reach):k + reach + 1]
    return float((1.0 - trail_strength) * visible[k] + trail_strength * window.mean())


def render_clip(spec: ClipSpec | dict, seed: int, *, num_frames: int = DEFAULT_NUM_FRAMES,
                size: int = DEFAULT_SIZE, frame_indices=None, trail_strength: float = 0.0) -> torch.Tensor:
    """Render one clip as a uint8 tensor of shape (num_frames, size, size, 3); same seed -> same tensor.

    ``spec`` is a `ClipSpec` (or a dict of its fields): target shape, colour, motion, background and the number
    of distractors (None = 1-2 chosen by the seed). ``frame_indices`` renders only those frames of the clip
    (shape (len(frame_indices), size, size, 3)), identical to the same frames of the full clip.

    ``trail_strength`` (0-1, default 0: none) draws a motion trail behind every moving shape, the target and the
    distractors: faded copies at the positions (sizes, angles) up to `TRAIL_EXPOSURE` frames before *and* after, so a
    single frame shows motion the way a photograph of a runner does, without showing its direction (`_trail`);
    under the same exposure a blinking target is drawn half-transparent, on and off (`_exposed_opacity`).
    It consumes no randomness: the clip's trajectories are the same with and without trails.
    """
    spec = _as_spec(spec)
    if num_frames < 2:
        raise ValueError(f"num_frames={num_frames}: a clip needs at least 2 frames to show motion.")
    if size < 16:
        raise ValueError(f"size={size}: render at 16 px or more (64 is the default).")
    if not 0.0 <= float(trail_strength) <= 1.0:
        raise ValueError(f"trail_strength={trail_strength}: use a value in [0, 1] (0 = no motion trails).")
    rng = np.random.default_rng(int(seed))
    t = np.linspace(0.0, 1.0, num_frames)
    background = _background(spec.background, size, rng)

    num_distractors = int(rng.integers(1, 3)) if spec.num_distractors is None else spec.num_distractors
    radius = rng.uniform(0.2, 0.24) * size
    distractors = []
    for _ in range(num_distractors):
        shape = str(rng.choice(SHAPES))
        grey = np.full(3, rng.uniform(0.45, 0.65), dtype=np.float32)
        d_radius = radius * rng.uniform(0.3, 0.45)
        dx, dy = _distractor_path(t, size, rng)
        d_angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.15, 0.15) * np.arange(num_frames)
        distractors.append((shape, grey, d_radius, dx, dy, d_angle))

    colour = np.clip(np.asarray(PALETTE[spec.colour], dtype=np.float32) + rng.uniform(-12, 12, size=3), 0, 255)
    colour = colour / 255.0
    x, y, scale, angle, visible = _trajectory(spec.motion, t, size, radius, rng)

    indices = range(num_frames) if frame_indices is None else [int(k) for k in frame_indices]
    if any(not 0 <= k < num_frames for k in indices):
        raise ValueError(f"frame_indices={list(indices)} must lie in [0, num_frames={num_frames}).")
    frames = np.empty((len(indices), size, size, 3), dtype=np.uint8)
    for i, k in enumerate(indices):
        canvas = background.copy()
        for shape, grey, d_radius, dx, dy, d_angle in distractors:
            if trail_strength > 0:
                for gx, gy, _, ga, weight in _trail(dx, dy, np.ones(num_frames), d_angle, k, d_radius):
                    _draw(canvas, shape, gx, gy, d_radius, ga, grey, alpha=trail_strength * weight)
            _draw(canvas, shape, dx[k], dy[k], d_radius, d_angle[k], grey)
        if trail_strength > 0 and visible[k] > 0:
            for gx, gy, gs, ga, weight in _trail(x, y, scale, angle, k, radius * scale[k]):
                _draw(canvas, spec.shape, gx, gy, radius * gs, ga, colour, alpha=trail_strength * weight)
        opacity = float(visible[k]) if trail_strength <= 0 else _exposed_opacity(visible, k, trail_strength)
        _draw(canvas, spec.shape, x[k], y[k], radius * scale[k], angle[k], colour, alpha=opacity)
        frames[i] = np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return torch.from_numpy(frames)
