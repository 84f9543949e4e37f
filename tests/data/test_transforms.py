import pytest
import torch

from hfvideoclip.data import augment as A
from hfvideoclip.models.video_clip import video_transforms as T

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def random_video(t=4, h=48, w=64, dtype=torch.uint8, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randint(0, 256, (t, 3, h, w), generator=g, dtype=torch.uint8)
    return video if dtype == torch.uint8 else video.to(dtype)


def g(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------ resizing
def test_resize_shorter_side_shapes_and_dtypes():
    video = random_video(h=48, w=64)
    out = T.resize_shorter_side(video, 24)
    assert out.shape == (4, 3, 24, 32) and out.dtype == torch.uint8
    portrait = T.resize_shorter_side(random_video(h=64, w=48).float(), 36)
    assert portrait.shape == (4, 3, 48, 36) and portrait.dtype == torch.float32
    batched = T.resize_shorter_side(random_video().unsqueeze(0).expand(2, -1, -1, -1, -1), 30)
    assert batched.shape == (2, 4, 3, 30, 40)
    assert T.resize_shorter_side(random_video(h=30, w=50), 224).shape == (4, 3, 224, 373)  # int(224*50/30)


def test_resize_keeps_flat_frames_flat_and_antialiases():
    flat = torch.full((2, 3, 40, 60), 77, dtype=torch.uint8)
    assert torch.equal(T.resize_shorter_side(flat, 20), torch.full((2, 3, 20, 30), 77, dtype=torch.uint8))
    # A one-pixel checkerboard downscaled 4x averages to grey with antialiasing (plain bilinear would alias).
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2).float().expand(1, 3, 64, 64) * 255
    small = T.resize_shorter_side(checker, 16)
    assert torch.allclose(small, torch.full_like(small, 127.5), atol=1.0)


def test_resize_uint8_is_within_one_level_of_float():
    """uint8 frames use torch's fixed-point uint8 kernel (channels-last decoded frames, as the processor passes
    them): within one level of the float resize rounded, in both layouts and for up- and downscaling."""
    video = random_video()
    for frames in (video, video.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)):  # contiguous, channels-last
        for size in (20, 60):
            as_uint8 = T.resize_shorter_side(frames, size)
            assert as_uint8.dtype == torch.uint8
            as_float = T.resize_shorter_side(frames.float(), size).round().clamp(0, 255)
            difference = (as_uint8.float() - as_float).abs()
            assert difference.max() <= 1 and difference.mean() < 0.5


# ------------------------------------------------------------------------------------------ crops
def test_center_crop_picks_the_centre():
    video = torch.zeros(2, 3, 10, 12, dtype=torch.uint8)
    video[..., 3:7, 4:8] = 255  # a 4x4 square exactly in the middle
    out = T.center_crop(video, 4)
    assert out.shape == (2, 3, 4, 4)
    assert bool((out == 255).all())
    rect = T.center_crop(torch.arange(10 * 12).view(1, 1, 10, 12).expand(1, 3, 10, 12), (2, 6))
    assert rect[0, 0].tolist() == [[51, 52, 53, 54, 55, 56], [63, 64, 65, 66, 67, 68]]  # rows 4-5, cols 3-8


def test_center_crop_too_large_is_an_error():
    with pytest.raises(ValueError, match="resize first"):
        T.center_crop(random_video(h=20, w=30), 24)


def test_three_crop_covers_start_centre_end_of_the_long_side():
    video = random_video(h=32, w=60)
    views = T.three_crop(video, 32)
    assert views.shape == (3, 4, 3, 32, 32)
    assert torch.equal(views[0], video[..., :, :32])
    assert torch.equal(views[1], T.center_crop(video, 32))
    assert torch.equal(views[2], video[..., :, -32:])
    portrait = random_video(h=60, w=32)
    views = T.three_crop(portrait, 32)
    assert torch.equal(views[0], portrait[..., :32, :]) and torch.equal(views[2], portrait[..., -32:, :])
    assert T.three_crop(video.unsqueeze(0), 32).shape == (1, 3, 4, 3, 32, 32)


# ------------------------------------------------------------------------------------------ normalize
def test_normalize_matches_hand_computation():
    video = random_video(t=2, h=3, w=5)
    out = T.normalize(video, CLIP_MEAN, CLIP_STD)
    assert out.dtype == torch.float32 and out.shape == video.shape
    for t, c, y, x in [(0, 0, 0, 0), (1, 2, 2, 4), (0, 1, 1, 3), (1, 0, 2, 1)]:
        expected = (int(video[t, c, y, x]) / 255 - CLIP_MEAN[c]) / CLIP_STD[c]
        assert abs(float(out[t, c, y, x]) - expected) < 1e-5
    # Floats are taken as already scaled: same result from video / 255.
    assert torch.allclose(T.normalize(video.float() / 255, CLIP_MEAN, CLIP_STD), out, atol=1e-6)


def test_normalize_rejects_bad_statistics():
    with pytest.raises(ValueError, match="3 values"):
        T.normalize(random_video(), (0.5, 0.5), (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="positive"):
        T.normalize(random_video(), CLIP_MEAN, (0.2, 0.0, 0.2))


# ------------------------------------------------------------------------------------------ random crop
def test_random_resized_crop_shape_and_determinism():
    video = random_video(h=48, w=64)
    a = A.random_resized_crop(video, 32, generator=g(0))
    b = A.random_resized_crop(video, 32, generator=g(0))
    assert a.shape == (4, 3, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    boxes = {A.random_resized_crop_params(48, 64, generator=g(seed)) for seed in range(10)}
    assert len(boxes) > 5  # different seeds, different boxes


def test_random_resized_crop_uses_one_box_for_all_frames():
    base = torch.rand(1, 3, 48, 64, generator=g(1)) * 100
    video = base + torch.arange(5.0).view(5, 1, 1, 1) * 10  # frame t = frame 0 + 10 t
    out = A.random_resized_crop(video, (24, 20), generator=g(2))
    assert out.shape == (5, 3, 24, 20)
    # Resizing is linear, so with the same box frame t - frame 0 stays exactly 10 t everywhere.
    for t in range(5):
        assert torch.allclose(out[t] - out[0], torch.full_like(out[0], 10.0 * t), atol=1e-3)
    # And it equals cropping the box from the params with the same seed and resizing.
    top, left, h, w = A.random_resized_crop_params(48, 64, generator=g(2))
    expected = torch.nn.functional.interpolate(
        video[..., top : top + h, left : left + w],
        size=(24, 20),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    assert torch.allclose(out, expected, atol=1e-4)


def test_random_resized_crop_params_respect_scale_and_ratio():
    for seed in range(50):
        top, left, h, w = A.random_resized_crop_params(
            100, 120, scale=(0.2, 0.5), ratio=(0.5, 2.0), generator=g(seed)
        )
        assert 0 <= top and top + h <= 100 and 0 <= left and left + w <= 120
        assert 0.18 <= h * w / 12000 <= 0.52
        assert 0.45 <= w / h <= 2.1
    # scale 1 with the frame's own ratio: the whole frame.
    assert A.random_resized_crop_params(30, 40, scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3), generator=g(0)) == (
        0,
        0,
        30,
        40,
    )


# ------------------------------------------------------------------------------------------ flips, colour
def test_horizontal_flip_is_an_exact_flip():
    video = random_video()
    flipped = A.random_horizontal_flip(video, 1.0, generator=g(0))
    assert torch.equal(flipped, video.flip(-1))
    assert torch.equal(flipped[..., 0], video[..., -1])
    assert torch.equal(A.random_horizontal_flip(video, 0.0, generator=g(0)), video)
    outcomes = {
        bool(torch.equal(A.random_horizontal_flip(video, 0.5, generator=g(s)), video)) for s in range(20)
    }
    assert outcomes == {True, False}


def test_grayscale_uses_luma_weights():
    red = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    red[:, 0] = 255
    gray = A.random_grayscale(red, 1.0, generator=g(0))
    assert gray.dtype == torch.uint8 and gray.shape == red.shape
    assert bool((gray == 76).all())  # round(0.299 * 255) = 76 on all three channels
    assert torch.equal(A.random_grayscale(red, 0.0), red)


def test_color_jitter_is_deterministic_and_keeps_range():
    video = random_video()
    a = A.color_jitter(video, p=1.0, generator=g(5))
    b = A.color_jitter(video, p=1.0, generator=g(5))
    assert torch.equal(a, b) and a.dtype == torch.uint8 and a.shape == video.shape
    assert not torch.equal(a, video)
    assert torch.equal(A.color_jitter(video, p=0.0, generator=g(5)), video)
    float_out = A.color_jitter(video.float() / 255, p=1.0, generator=g(5))
    assert float(float_out.min()) >= 0.0 and float(float_out.max()) <= 1.0
    assert (float_out * 255 - a.float()).abs().max() <= 1.0  # same parameters, same result up to rounding


def test_color_jitter_brightness_only_scales_all_frames_alike():
    video = torch.full((3, 3, 4, 4), 0.5)
    out = A.color_jitter(video, brightness=0.5, contrast=0, saturation=0, hue=0, p=1.0, generator=g(0))
    factor = out / video
    assert torch.allclose(factor, factor.flatten()[0].expand_as(factor))
    assert 0.5 <= float(factor.flatten()[0]) <= 1.5


def test_hue_rotation_and_hsv_round_trip():
    rgb = torch.rand(2, 3, 5, 5, generator=g(0))
    assert torch.allclose(A._hsv_to_rgb(A._rgb_to_hsv(rgb)), rgb, atol=1e-5)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    hsv = A._rgb_to_hsv(red)
    hsv[:, 0] = (hsv[:, 0] + 1 / 3) % 1.0
    assert torch.allclose(
        A._hsv_to_rgb(hsv).flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6
    )  # red -> green


# ------------------------------------------------------------------------------------------ input checks
def test_channels_last_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="permute"):
        T.center_crop(torch.zeros(8, 32, 32, 3, dtype=torch.uint8), 16)
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 3, H, W\)"):
        T.normalize(torch.zeros(3, 32, 32), CLIP_MEAN, CLIP_STD)


# ------------------------------------------------------------------------------------------ augment_clip
def test_augmentation_config_defaults_and_validation_messages():
    config = A.AugmentationConfig()
    assert (config.crop_min_area, config.horizontal_flip, config.grayscale, config.color_jitter) == (0.4, 0.5, 0.2, 0.0)
    assert config.crop_ratio == (3 / 4, 4 / 3)
    assert (config.brightness, config.contrast, config.saturation, config.hue) == (0.4, 0.4, 0.4, 0.1)
    assert A.AugmentationConfig(crop_ratio=[0.5, 2]).crop_ratio == (0.5, 2.0)  # lists from YAML/JSON become tuples
    bad = [
        ({"crop_min_area": 0.0}, r"crop_min_area must lie in \(0, 1\]"),
        ({"crop_min_area": 1.5}, r"crop_min_area must lie in \(0, 1\]"),
        ({"crop_ratio": (4 / 3, 3 / 4)}, r"crop_ratio must be \(min, max\)"),
        ({"crop_ratio": (0.0, 1.0)}, r"crop_ratio must be \(min, max\)"),
        ({"crop_ratio": 1.0}, r"crop_ratio must be \(min, max\)"),
        ({"horizontal_flip": 1.2}, r"horizontal_flip is a probability and must lie in \[0, 1\]"),
        ({"horizontal_flip": True}, r"horizontal_flip is a probability"),
        ({"grayscale": -0.1}, r"grayscale is a probability"),
        ({"color_jitter": 2}, r"color_jitter is a probability"),
        ({"brightness": -1}, "brightness is a jitter strength and must be >= 0"),
        ({"hue": 0.6}, r"hue is a shift in turns and must lie in \[0, 0.5\]"),
        ({"color_jitter": 0.8, "brightness": 0, "contrast": 0, "saturation": 0, "hue": 0}, "would change nothing"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            A.AugmentationConfig(**kwargs)


def test_augment_clip_flip_probability_zero_never_flips_and_one_always_flips_every_frame():
    video = random_video(h=32, w=40).float()
    still = A.AugmentationConfig(crop_min_area=1.0, horizontal_flip=0.0, grayscale=0.0)
    mirror = A.AugmentationConfig(crop_min_area=1.0, horizontal_flip=1.0, grayscale=0.0)
    for seed in range(10):
        assert torch.equal(A.augment_clip(video, still, g(seed)), video)
        assert torch.equal(A.augment_clip(video, mirror, g(seed)), video.flip(-1))
    # With the crop on, p=1 mirrors exactly the crop p=0 takes (same generator draws), on every frame.
    cropped = A.augment_clip(video, A.AugmentationConfig(horizontal_flip=0.0, grayscale=0.0), g(3))
    cropped_flipped = A.augment_clip(video, A.AugmentationConfig(horizontal_flip=1.0, grayscale=0.0), g(3))
    assert cropped.shape == video.shape  # back to the clip's size
    assert torch.equal(cropped_flipped, cropped.flip(-1))
    assert not torch.equal(cropped, video)


def test_augment_clip_grayscale_one_gives_equal_channels():
    video = random_video()
    for config in (A.AugmentationConfig(grayscale=1.0), A.AugmentationConfig(grayscale=1.0, color_jitter=1.0)):
        for clip in (video, video.float()):
            out = A.augment_clip(clip, config, g(1))
            assert out.dtype == clip.dtype and out.shape == clip.shape
            assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    colour = A.augment_clip(video, A.AugmentationConfig(grayscale=0.0), g(1))
    assert not torch.equal(colour[:, 0], colour[:, 1])


def test_augment_clip_uses_the_same_parameters_for_every_frame_and_is_reproducible():
    frame = random_video(t=1, h=24, w=30)
    clip = frame.expand(5, -1, -1, -1).contiguous()
    config = A.AugmentationConfig(color_jitter=1.0, grayscale=0.5)
    for seed in range(5):
        out = A.augment_clip(clip, config, g(seed), size=16)
        assert out.shape == (5, 3, 16, 16)
        assert all(torch.equal(out[0], out[i]) for i in range(1, 5))
        assert torch.equal(out, A.augment_clip(clip, config, g(seed), size=16))
    outputs = {A.augment_clip(clip, config, g(seed)).float().sum().item() for seed in range(5)}
    assert len(outputs) > 1


def test_augment_clip_colour_jitter_follows_its_probability_and_white_level():
    video = random_video()
    fixed_geometry = {"crop_min_area": 1.0, "horizontal_flip": 0.0, "grayscale": 0.0}
    assert torch.equal(A.augment_clip(video, A.AugmentationConfig(**fixed_geometry), g(0)), video)
    jittered = A.augment_clip(video, A.AugmentationConfig(color_jitter=1.0, **fixed_geometry), g(0))
    assert not torch.equal(jittered, video)
    # A float clip in [0, 255] with max_value=255 gets the uint8 result (up to rounding).
    as_float = A.augment_clip(video.float(), A.AugmentationConfig(color_jitter=1.0, **fixed_geometry), g(0),
                              max_value=255.0)
    assert (as_float - jittered.float()).abs().max() <= 1.0
    # Crop disabled with another output size: the whole clip is resized.
    assert torch.equal(A.augment_clip(video, A.AugmentationConfig(**fixed_geometry), g(0), size=(24, 32)),
                       T.resize_shorter_side(video, 24))
    with pytest.raises(TypeError, match="AugmentationConfig"):
        A.augment_clip(video, {"crop_min_area": 0.5}, g(0))


def test_processor_transform_takes_float_frames_as_decoded_frames_are_read():
    """`transform_clip` works on uint8; float frames (0..255 or 0..1) get `as_video_tensor`'s reading first, so they
    give the uint8 clip's views, never views normalised as if 0..255 were 0..1."""
    from hfvideoclip import VideoClipVideoProcessor

    processor = VideoClipVideoProcessor(num_frames=4, size=24)
    clip = random_video(t=4, h=40, w=48).permute(0, 2, 3, 1).contiguous()  # (T, H, W, 3) uint8
    expected = processor.transform_clip(clip)
    assert torch.equal(processor.transform_clip(clip.float()), expected)
    assert torch.equal(processor.transform_clip(clip.float() / 255.0), expected)
    assert torch.equal(processor.transform_clip(clip.numpy()), expected)
