"""The vocabulary of the toy world: colours, shapes, motions, backgrounds, and the class names built from them.

Everything here is plain data. `render.py` turns a `ClipSpec` into frames, `protocols.py` builds datasets of
class names such as ``"a circle moving left"`` (motion-shape) or ``"a red star"`` (colour-shape).

Motions come in two kinds (design doc section 6). *Direction-free* motions (still, rotating, blinking, side to
side, bouncing) can be told apart from an unordered set of frames, so frame-mean and VCLIP backbones can learn
them. *Direction pairs* (moving left / right, moving up / down, growing / shrinking) are each other's time
reversal: only a model that sees frame order can separate the two members of a pair.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (228, 32, 32),
    "orange": (255, 140, 10),
    "yellow": (240, 225, 40),
    "green": (40, 190, 60),
    "cyan": (30, 215, 225),
    "blue": (35, 75, 245),
    "purple": (150, 55, 225),
}
"""Colour name -> nominal RGB. Rendered clips jitter each channel a little around these values."""

PRETRAINING_COLOURS: dict[str, tuple[int, int, int]] = {
    "pink": (255, 125, 190),
    "lime": (165, 235, 45),
    "teal": (0, 150, 135),
    "white": (238, 238, 238),
}
"""Extra colours seen only while pretraining the tiny CLIP (never in protocols). Showing every shape in more
colours keeps the tiny ViT's shape features from being tied to colour, which is what lets it recognise the
held-out colour-shape pairs."""

PALETTE: dict[str, tuple[int, int, int]] = {**COLOURS, **PRETRAINING_COLOURS}
"""Every colour the renderer knows."""

SHAPES: tuple[str, ...] = ("circle", "triangle", "star", "cross", "crescent", "bar")
"""Shapes whose identity survives rotation (a rotated star is still a star). They stand upright (+-15 degrees)
unless the motion is "rotating". Chosen to be told apart by a tiny ViT at 32 px: squares (too close to circles
there) and hearts were tried and dropped."""

ROTATION_INVARIANT_SHAPES: frozenset[str] = frozenset({"circle"})
"""Shapes on which rotation is invisible; "rotating" is not a valid motion for them."""


@dataclass(frozen=True)
class Motion:
    """A motion: its phrase in class names ("a circle <phrase>"), kind, and time-reversed partner if any."""

    name: str
    phrase: str
    kind: str  # "direction-free" or "direction-pair"
    partner: str | None = None


DIRECTION_FREE = "direction-free"
DIRECTION_PAIR = "direction-pair"

MOTIONS: dict[str, Motion] = {
    m.name: m
    for m in (
        Motion("still", "standing still", DIRECTION_FREE),
        Motion("rotating", "rotating", DIRECTION_FREE),
        Motion("blinking", "blinking", DIRECTION_FREE),
        Motion("side to side", "moving side to side", DIRECTION_FREE),
        Motion("bouncing", "bouncing", DIRECTION_FREE),
        Motion("moving left", "moving left", DIRECTION_PAIR, "moving right"),
        Motion("moving right", "moving right", DIRECTION_PAIR, "moving left"),
        Motion("moving up", "moving up", DIRECTION_PAIR, "moving down"),
        Motion("moving down", "moving down", DIRECTION_PAIR, "moving up"),
        Motion("growing", "growing", DIRECTION_PAIR, "shrinking"),
        Motion("shrinking", "shrinking", DIRECTION_PAIR, "growing"),
    )
}
"""Motion name -> `Motion`. Names are also the values of the datasets' ``motion`` column."""

BACKGROUNDS: tuple[str, ...] = ("plain", "stripes", "checkers", "dots", "grid", "waves")
"""Procedural background textures (dim, low saturation, so the coloured target stands out)."""

HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("red", "star"),
    ("orange", "crescent"),
    ("yellow", "circle"),
    ("green", "cross"),
    ("cyan", "triangle"),
    ("blue", "bar"),
    ("purple", "star"),
    ("green", "crescent"),
)
"""Colour-shape pairs never shown while pretraining the tiny CLIP (8 of the 42 protocol pairs, ~19 %). Every colour and every shape
still appears in other pretraining pairs, so recognising these pairs is compositional generalisation."""


HELD_OUT_MOTION_SHAPES: tuple[tuple[str, str], ...] = (
    ("star", "rotating"),
    ("circle", "bouncing"),
    ("triangle", "moving left"),
    ("cross", "growing"),
    ("crescent", "side to side"),
    ("bar", "shrinking"),
    ("triangle", "moving right"),
    ("star", "moving up"),
)
"""Shape-motion combinations never captioned while pretraining the tiny CLIP (its frames may still show them, named
by colour and shape only). Every shape and every motion is captioned in other combinations, so naming these
zero-shot is compositional, as "a dog surfing" is for CLIP."""


def all_pairs() -> list[tuple[str, str]]:
    """Every (colour, shape) pair, colours outer, in vocabulary order."""
    return [(c, s) for c in COLOURS for s in SHAPES]


def seen_pairs() -> list[tuple[str, str]]:
    """The colour-shape pairs used in pretraining (all pairs minus `HELD_OUT_PAIRS`)."""
    held = set(HELD_OUT_PAIRS)
    return [p for p in all_pairs() if p not in held]


def is_valid(shape: str, motion: str) -> bool:
    """Whether the motion is visible on the shape (a rotating circle looks like a still one)."""
    return not (motion == "rotating" and shape in ROTATION_INVARIANT_SHAPES)


def colour_shape_name(colour: str, shape: str) -> str:
    """Class name of a colour-shape class, e.g. ``"a red star"``."""
    return f"a {colour} {shape}"


def motion_shape_name(shape: str, motion: str) -> str:
    """Class name of a motion-shape class, e.g. ``"a circle moving left"``."""
    return f"a {shape} {MOTIONS[motion].phrase}"


def colour_motion_shape_name(colour: str, shape: str, motion: str) -> str:
    """Class name of a colour-motion-shape class, e.g. ``"a red circle moving left"``."""
    return f"a {colour} {shape} {MOTIONS[motion].phrase}"


def motion_name(motion: str) -> str:
    """Class name of a motion-only class, e.g. ``"a shape moving left"``."""
    return f"a shape {MOTIONS[motion].phrase}"


def partner_class_names() -> dict[str, str]:
    """Every toy class name of a direction-pair motion -> the same class with the partner motion (``"a circle moving
    left"`` -> ``"a circle moving right"``; motion-shape, colour-motion-shape and motion-only names): the protocols'
    `partner_classes`."""
    partners = {}
    for motion, spec in MOTIONS.items():
        if spec.partner is None:
            continue
        partners[motion_name(motion)] = motion_name(spec.partner)
        for shape in SHAPES:
            partners[motion_shape_name(shape, motion)] = motion_shape_name(shape, spec.partner)
            for colour in COLOURS:
                partners[colour_motion_shape_name(colour, shape, motion)] = colour_motion_shape_name(
                    colour, shape, spec.partner)
    return partners


def motion_kind(motion: str) -> str:
    """``"direction-free"`` or ``"direction-pair"``."""
    return MOTIONS[motion].kind


@dataclass(frozen=True)
class ClipSpec:
    """What a clip shows: one coloured target shape with a motion, over a background, among distractors.

    ``num_distractors=None`` lets the clip's seed choose 1-2 grey distractor shapes; pass 0 for a clean clip.
    """

    shape: str
    colour: str
    motion: str = "still"
    background: str = "plain"
    num_distractors: int | None = None

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"ClipSpec.shape={self.shape!r} is not a toy shape; use one of {list(SHAPES)}.")
        if self.colour not in PALETTE:
            raise ValueError(f"ClipSpec.colour={self.colour!r} is not a toy colour; use one of {list(PALETTE)}.")
        if self.motion not in MOTIONS:
            raise ValueError(f"ClipSpec.motion={self.motion!r} is not a toy motion; use one of {list(MOTIONS)}.")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"ClipSpec.background={self.background!r} is not a toy background; "
                             f"use one of {list(BACKGROUNDS)}.")
        if self.num_distractors is not None and not 0 <= self.num_distractors <= 8:
            raise ValueError(f"ClipSpec.num_distractors={self.num_distractors!r}: use None (random 1-2) or 0-8.")

    def to_dict(self) -> dict:
        return asdict(self)
