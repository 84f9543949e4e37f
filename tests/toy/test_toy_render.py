import numpy as np
import pytest
import torch

from hfvideoclip.toy import COLOURS, MOTIONS, SHAPES, ClipSpec, render_clip
from hfvideoclip.toy.world import BACKGROUNDS, is_valid


def target_mask(frames: torch.Tensor, colour: str) -> np.ndarray:
    """(T, H, W) bool: pixels close to the target's nominal colour."""
    diff = np.abs(frames.numpy().astype(int) - np.asarray(COLOURS[colour])).sum(-1)
    return diff < 70


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


def test_shape_dtype_and_determinism():
    spec = ClipSpec("star", "red", "moving left", "stripes")
    a, b = render_clip(spec, 7), render_clip(spec, 7)
    assert a.shape == (16, 64, 64, 3) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert not torch.equal(a, render_clip(spec, 8))
    assert torch.equal(render_clip(spec.to_dict(), 7), a)


def test_frame_indices_match_full_clip():
    spec = ClipSpec("cross", "blue", "rotating", "dots")
    full = render_clip(spec, 3)
    assert torch.equal(render_clip(spec, 3, frame_indices=[0, 5, 15]), full[[0, 5, 15]])
    with pytest.raises(ValueError, match="frame_indices"):
        render_clip(spec, 3, frame_indices=[16])


@pytest.mark.parametrize("motion", list(MOTIONS))
def test_every_motion_renders_every_background(motion):
    for i, shape in enumerate(SHAPES):
        spec = ClipSpec(shape, list(COLOURS)[i], motion, BACKGROUNDS[i % len(BACKGROUNDS)])
        clip = render_clip(spec, i, num_frames=8, size=32)
        assert clip.shape == (8, 32, 32, 3)


def clean(shape, colour, motion, seed=0):
    return render_clip(ClipSpec(shape, colour, motion, "plain", num_distractors=0), seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_direction_pairs_move_the_target(seed):
    for motion, axis, sign in [("moving left", 0, -1), ("moving right", 0, 1), ("moving up", 1, -1),
                               ("moving down", 1, 1)]:
        mask = target_mask(clean("circle", "yellow", motion, seed), "yellow")
        start, end = centroid(mask[0]), centroid(mask[-1])
        assert sign * (end[axis] - start[axis]) > 10, motion
        assert abs(end[1 - axis] - start[1 - axis]) < 2, motion
    grow = target_mask(clean("bar", "green", "growing", seed), "green").sum((1, 2))
    shrink = target_mask(clean("bar", "green", "shrinking", seed), "green").sum((1, 2))
    assert grow[-1] > 2 * grow[0] and shrink[0] > 2 * shrink[-1]


def test_direction_free_motions():
    still = clean("star", "red", "still")
    assert torch.equal(still[0], still[-1])
    rotating = target_mask(clean("star", "red", "rotating"), "red")
    assert rotating[0].sum() > 20 and (rotating[0] != rotating[3]).sum() > 5
    blinking = target_mask(clean("star", "red", "blinking"), "red").sum((1, 2))
    assert (blinking == 0).any() and (blinking > 20).any()
    sway = [centroid(m)[0] for m in target_mask(clean("triangle", "cyan", "side to side"), "cyan")]
    assert max(sway) - min(sway) > 8
    bounce = [centroid(m)[1] for m in target_mask(clean("triangle", "cyan", "bouncing"), "cyan")]
    assert max(bounce) - min(bounce) > 6


def test_distractors_and_background_are_clutter():
    frames = render_clip(ClipSpec("circle", "red", "still", "checkers", num_distractors=2), 5)
    # textured background: many distinct grey levels; the target colour covers only a small part
    assert len(np.unique(frames[0].numpy().reshape(-1, 3), axis=0)) > 50
    assert target_mask(frames, "red")[0].mean() < 0.3


def test_invalid_specs_raise():
    with pytest.raises(ValueError, match="shape"):
        ClipSpec("hexagon", "red")
    with pytest.raises(ValueError, match="colour"):
        ClipSpec("circle", "mauve")
    with pytest.raises(ValueError, match="motion"):
        ClipSpec("circle", "red", "dancing")
    with pytest.raises(ValueError, match="background"):
        ClipSpec("circle", "red", "still", "jungle")
    assert not is_valid("circle", "rotating") and is_valid("star", "rotating")


@pytest.mark.parametrize("pair", [("moving left", "moving right"), ("moving up", "moving down"),
                                  ("growing", "shrinking")])
def test_motion_trails_show_motion_but_not_its_direction(pair):
    """Trails are symmetric in time: frame k of a clip equals frame T-1-k of its time-reversed partner (same
    seed), so a still shows that the shape moves, not which way. A trail drawn behind the shape only would
    break the equality."""
    first, second = (ClipSpec("star", "red", m, "plain", num_distractors=0) for m in pair)
    a = render_clip(first, 11, trail_strength=1.0)
    b = render_clip(second, 11, trail_strength=1.0)
    plain = render_clip(first, 11)
    assert torch.equal(a, b.flip(0)), "a trail must not show the direction"
    moved = (a.int() - plain.int()).abs().sum(-1) > 30
    assert moved[1:-1].sum(dim=(1, 2)).min() >= 8, "every frame of a moving shape shows a trail"


def test_motion_trails_leave_still_shapes_and_the_randomness_alone():
    spec = ClipSpec("cross", "blue", "still", "dots", num_distractors=0)
    assert torch.equal(render_clip(spec, 5, trail_strength=1.0), render_clip(spec, 5))
    moving = ClipSpec("cross", "blue", "side to side", "dots")
    with_trails, without = render_clip(moving, 5, trail_strength=0.7), render_clip(moving, 5)
    # same trajectories: the target's centroid is where it was without trails (the trail is symmetric)
    for k in (3, 8, 12):
        cx, cy = centroid(target_mask(with_trails[k:k + 1], "blue")[0])
        ex, ey = centroid(target_mask(without[k:k + 1], "blue")[0])
        assert abs(cx - ex) < 1.5 and abs(cy - ey) < 1.0
    with pytest.raises(ValueError, match="trail_strength"):
        render_clip(moving, 5, trail_strength=1.5)


def test_a_long_exposure_shows_a_blinking_shape_half_transparent_in_every_frame():
    """The trace of blinking a still can show: under the exposure that draws trails the target is drawn at its
    mean visibility over the exposure, in the frames it is off as well as on (without trails: on or off)."""
    spec = ClipSpec("star", "red", "blinking", "plain", num_distractors=0)
    plain, exposed = render_clip(spec, 4).float(), render_clip(spec, 4, trail_strength=1.0).float()
    lit = target_mask(plain.to(torch.uint8), "red").sum((1, 2))
    on, off = int(lit.argmax()), int(lit.argmin())
    assert lit[off] == 0 and lit[on] > 20
    shape = (plain[on] - plain[off]).abs().sum(-1) > 60  # the target's pixels
    full = (plain[on] - plain[off])[shape].abs().sum()
    opacity = [((exposed[k] - plain[off])[shape].abs().sum() / full).item() for k in range(len(plain))]
    assert all(0.2 < value < 0.8 for value in opacity), opacity
    half = render_clip(spec, 4, trail_strength=0.5).float()
    assert ((half[on] - plain[off])[shape].abs().sum() / full) > opacity[on]  # on frames stay brighter
    assert ((half[off] - plain[off])[shape].abs().sum() / full) < opacity[off]
