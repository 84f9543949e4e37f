"""VideoClipCollator: reproducible training randomness without saved state, deterministic evaluation views that
match the processor, temporal jitter inside each segment, and the processor's train path through augment_clip."""

import pickle

import numpy as np
import pytest
import torch

from hfvideoclip.data import augment as A
from hfvideoclip.data.collator import VideoClipCollator
from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.models.video_clip import video_transforms as T
from hfvideoclip.models.video_clip.processing_video_clip import VideoClipVideoProcessor
from hfvideoclip.models.video_clip.video_decoding import decode_video
from hfvideoclip.models.video_clip.video_sampling import segment_frame_indices
from hfvideoclip.toy import ClipSpec, render_clip, write_mp4

NUM_FRAMES = 4
NO_AUGMENTATION = A.AugmentationConfig(crop_min_area=1.0, horizontal_flip=0.0, grayscale=0.0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three 16-frame toy mp4s (64x64, 64x64, 48x64) and their labels."""
    root = tmp_path_factory.mktemp("collator_videos")
    specs = [("circle", "red", "bouncing"), ("star", "blue", "moving right"), ("triangle", "green", "still")]
    rows = []
    for i, (shape, colour, motion) in enumerate(specs):
        frames = render_clip(ClipSpec(shape, colour, motion, "checkers"), seed=10 + i)
        if i == 2:
            frames = frames[:, 8:56]  # a landscape 48x64 clip
        path = root / f"v{i}.mp4"
        write_mp4(frames, path, fps=8)
        rows.append({"video": str(path), "label": i})
    return rows


@pytest.fixture(scope="module")
def processor():
    return VideoClipVideoProcessor(num_frames=NUM_FRAMES, size=32, crop_size=32)


def _frames_with_index_values(num_total=40, size=16):
    """Decoded frames (num_total, size, size, 3) whose value is 5 * frame index: the output tells which frame."""
    values = (torch.arange(num_total, dtype=torch.uint8) * 5).view(-1, 1, 1, 1)
    return values.expand(num_total, size, size, 3).numpy().copy()


def _pixel_to_frame(pixels, processor):
    """Undo the normalisation of a flat frame's red channel: (..., T, 3, S, S) -> frame indices (..., T)."""
    red = pixels[..., 0, :, :].mean(dim=(-2, -1))
    value = (red * processor.image_std[0] + processor.image_mean[0]) * 255.0
    return torch.round(value / 5).long()


# ------------------------------------------------------------------------------------------ training randomness
def test_same_seed_epoch_and_rows_give_an_identical_batch(videos, processor):
    first = VideoClipCollator(processor, train=True, seed=3)
    second = VideoClipCollator(processor, train=True, seed=3)  # e.g. after resuming: no state carried over
    first.set_epoch(2)
    second.set_epoch(2.5)  # TrainerState.epoch after resuming mid-epoch is floored
    a, b = first(videos), second(videos)
    assert a["pixel_values_videos"].shape == (3, NUM_FRAMES, 3, 32, 32)
    assert a["pixel_values_videos"].dtype == torch.float32
    assert a["labels"].dtype == torch.long and a["labels"].tolist() == [0, 1, 2]
    assert torch.equal(a["pixel_values_videos"], b["pixel_values_videos"])
    assert first.batch_seed(videos) == second.batch_seed(videos)
    # Calling again gives the same batch: nothing advances between calls.
    assert torch.equal(first(videos)["pixel_values_videos"], a["pixel_values_videos"])
    # The collator travels to DataLoader workers.
    assert torch.equal(pickle.loads(pickle.dumps(first))(videos)["pixel_values_videos"], a["pixel_values_videos"])


def test_epoch_process_seed_and_rows_change_the_augmentation(videos, processor):
    base = VideoClipCollator(processor, train=True, seed=3)
    reference = base(videos)["pixel_values_videos"]
    seeds = {base.batch_seed(videos)}

    base.set_epoch(1)
    assert not torch.equal(base(videos)["pixel_values_videos"], reference)
    seeds.add(base.batch_seed(videos))

    other_process = VideoClipCollator(processor, train=True, seed=3, process_index=1)
    assert not torch.equal(other_process(videos)["pixel_values_videos"], reference)
    seeds.add(other_process.batch_seed(videos))

    other_seed = VideoClipCollator(processor, train=True, seed=4)
    assert not torch.equal(other_seed(videos)["pixel_values_videos"], reference)
    seeds.add(other_seed.batch_seed(videos))

    relabelled = [dict(row, label=row["label"] + 1) for row in videos]
    seeds.add(VideoClipCollator(processor, train=True, seed=3).batch_seed(relabelled))
    seeds.add(VideoClipCollator(processor, train=True, seed=3).batch_seed(videos[::-1]))
    assert len(seeds) == 6


def test_train_mode_differs_from_eval_and_clips_draw_their_own_augmentation(videos, processor):
    train = VideoClipCollator(processor, train=True, num_clips=2)(videos)["pixel_values_videos"]
    evaluation = VideoClipCollator(processor)(videos)["pixel_values_videos"]
    assert train.shape == (6, NUM_FRAMES, 3, 32, 32)
    assert not torch.equal(train[::2], evaluation)
    assert not torch.equal(train[0], train[1])  # two clips of one video: own frames and augmentation


# ------------------------------------------------------------------------------------------ evaluation
def test_eval_equals_the_processor_and_the_plain_test_pipeline(videos, processor):
    paths = [row["video"] for row in videos]
    batch = VideoClipCollator(processor)(videos)
    assert set(batch) == {"pixel_values_videos", "labels"}
    assert torch.equal(batch["pixel_values_videos"], processor(paths)["pixel_values_videos"])
    # Today's test-time pipeline written out: segment centres, resize (uint8), centre crop, normalise; within one
    # level (1/255) of resizing in float.
    expected, in_float = [], []
    for path in paths:
        clip = decode_video(path, NUM_FRAMES)[0].permute(0, 3, 1, 2)
        view = T.center_crop(T.resize_shorter_side(clip, 32), 32)
        expected.append(T.normalize(view, processor.image_mean, processor.image_std))
        view = T.center_crop(T.resize_shorter_side(clip.float(), 32), 32)
        in_float.append(T.normalize(view / 255.0, processor.image_mean, processor.image_std))
    assert torch.equal(batch["pixel_values_videos"], torch.stack(expected))
    std = torch.tensor(processor.image_std).view(3, 1, 1)
    difference = ((batch["pixel_values_videos"] - torch.stack(in_float)) * std * 255).abs()
    assert difference.max() <= 1.0 + 1e-3

    multi = VideoClipCollator(processor, num_clips=2, num_crops=3)(videos)
    assert multi["pixel_values_videos"].shape == (18, NUM_FRAMES, 3, 32, 32)
    assert torch.equal(multi["pixel_values_videos"], processor(paths, num_clips=2, num_crops=3)["pixel_values_videos"])


def test_eval_is_a_drop_in_for_the_harness_collator(videos):
    class MappingProcessor:  # like the harness's processors: a full processor returning a mapping
        def __call__(self, videos, num_clips=1, num_crops=1, return_tensors="pt"):
            count = num_clips * num_crops
            pixels = torch.zeros(len(videos) * count, 2, 3, 6, 6)
            for v, path in enumerate(videos):
                pixels[v * count:(v + 1) * count] = float(path[-5])  # the digit of ".../vN.mp4"
            return {"pixel_values_videos": pixels}

    rows = [(row["video"], row["label"]) for row in videos]
    batch = VideoClipCollator(MappingProcessor(), num_clips=3, num_crops=2, return_paths=True)(rows)
    assert batch["video_paths"] == [path for path, _ in rows]
    assert batch["labels"].tolist() == [0, 1, 2]
    assert batch["pixel_values_videos"][:, 0, 0, 0, 0].tolist() == [0.0] * 6 + [1.0] * 6 + [2.0] * 6


# ------------------------------------------------------------------------------------------ temporal jitter
def test_temporal_jitter_picks_a_frame_inside_each_segment_not_always_the_centre():
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([segment_frame_indices(80, 8, train=True, generator=generator)[0] for _ in range(50)])
    segment_starts = torch.arange(8) * 10
    assert bool(((draws >= segment_starts) & (draws < segment_starts + 10)).all())
    centres = segment_frame_indices(80, 8)[0]
    assert centres.tolist() == [5, 15, 25, 35, 45, 55, 65, 75]
    assert bool((draws != centres).any(dim=1).all())  # no draw is the centre clip
    assert all(len(set(draws[:, i].tolist())) > 3 for i in range(8))  # offsets spread over the segment


def test_collator_training_uses_temporal_jitter(processor):
    frames = _frames_with_index_values(num_total=40)  # 4 segments of 10 frames
    collator = VideoClipCollator(processor, train=True, augmentation=NO_AUGMENTATION)
    picked = []
    for epoch in range(8):
        collator.set_epoch(epoch)
        picked.append(_pixel_to_frame(collator([(frames, 0)])["pixel_values_videos"][0], processor))
    picked = torch.stack(picked)
    starts = torch.arange(4) * 10
    assert bool(((picked >= starts) & (picked < starts + 10)).all())
    assert len({tuple(p.tolist()) for p in picked}) > 1
    evaluation = _pixel_to_frame(VideoClipCollator(processor)([(frames, 0)])["pixel_values_videos"][0], processor)
    assert evaluation.tolist() == [5, 15, 25, 35]


# ------------------------------------------------------------------------------------------ processor train path
def test_training_view_is_augment_clip_on_the_test_region(processor):
    landscape = np.full((8, 48, 64, 3), 40, dtype=np.uint8)  # the same frame 8 times, so jitter does not matter
    landscape[..., 1] = np.linspace(0, 255, 64).astype(np.uint8)  # a horizontal green ramp
    landscape[..., 2] = np.linspace(255, 0, 48).astype(np.uint8)[:, None]  # a vertical blue ramp
    clip = processor.video_processor.load_clips(landscape)[0] if hasattr(processor, "video_processor") \
        else processor.load_clips(landscape)[0]
    video_processor = getattr(processor, "video_processor", processor)
    plain = A.augmented_view(video_processor, clip, NO_AUGMENTATION, torch.Generator().manual_seed(0))
    test_view = processor(landscape)["pixel_values_videos"]
    assert plain.shape == test_view.shape == (1, NUM_FRAMES, 3, 32, 32)
    assert torch.allclose(plain, test_view, atol=0.05)  # the same region, resampled once instead of twice
    flipped = A.AugmentationConfig(crop_min_area=1.0, horizontal_flip=1.0, grayscale=0.0)
    assert torch.equal(A.augmented_view(video_processor, clip, flipped, None), plain.flip(-1))


def test_the_processor_takes_no_training_arguments(processor):
    """Augmentation is training code (`data.augment`): the Hub folder's processor refuses it in one line."""
    frames = np.zeros((8, 48, 64, 3), dtype=np.uint8)
    for argument in ("train", "augmentation", "generator"):
        with pytest.raises(TypeError, match=f"unexpected argument '{argument}'"):
            processor(frames, **{argument: True})


# ------------------------------------------------------------------------------------------ errors
def test_decoding_errors_name_the_file(tmp_path, videos, processor):
    missing = str(tmp_path / "missing.mp4")
    with pytest.raises(VideoDecodingError, match="missing.mp4"):
        VideoClipCollator(processor, train=True)([videos[0], {"video": missing, "label": 0}])
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 20)
    with pytest.raises(VideoDecodingError, match="corrupt.mp4"):
        VideoClipCollator(processor)([(str(corrupt), 1)])


def test_bad_rows_and_conflicting_options_are_explained(processor, videos):
    with pytest.raises(KeyError, match="set video_column="):
        VideoClipCollator(processor)([{"path": videos[0]["video"], "label": 0}])
    with pytest.raises(ValueError, match="label must be an int"):
        VideoClipCollator(processor)([(videos[0]["video"], "circle")])
    with pytest.raises(ValueError, match="num_crops=3 with train=True"):
        VideoClipCollator(processor, train=True, num_crops=3)
    with pytest.raises(ValueError, match="evaluation views are not augmented"):
        VideoClipCollator(processor, augmentation=A.AugmentationConfig())
    with pytest.raises(ValueError, match="epoch must be"):
        VideoClipCollator(processor, train=True).set_epoch(-1)
    renamed = VideoClipCollator(processor, video_column="path", label_column="y")
    assert renamed([{"path": videos[0]["video"], "y": 7}])["labels"].tolist() == [7]


def test_datasets_video_values_go_through_the_processor_and_collator(tmp_path):
    """A `datasets.Video(decode=False)` column yields {"path", "bytes"} dicts: they decode like the path."""
    import numpy as np

    from hfvideoclip import VideoClipVideoProcessor
    from hfvideoclip.data.collator import VideoClipCollator
    from hfvideoclip.toy import write_mp4

    path = str(tmp_path / "v.mp4")
    write_mp4((np.random.default_rng(1).random((8, 32, 32, 3)) * 255).astype(np.uint8), path, fps=8)
    processor = VideoClipVideoProcessor(num_frames=4, size=16)
    collate = VideoClipCollator(processor)
    by_path = collate([{"video": path, "label": 0}])["pixel_values_videos"]
    by_dict = collate([{"video": {"path": path, "bytes": None}, "label": 0}])["pixel_values_videos"]
    by_bytes = collate([{"video": {"path": None, "bytes": open(path, "rb").read()}, "label": 0}])
    assert torch.equal(by_path, by_dict) and torch.equal(by_path, by_bytes["pixel_values_videos"])
    train = VideoClipCollator(processor, train=True, seed=3)
    assert torch.equal(train([{"video": {"path": path, "bytes": None}, "label": 0}])["pixel_values_videos"],
                       train([{"video": path, "label": 0}])["pixel_values_videos"])  # same seed key as the path


def test_spawned_workers_give_the_in_process_batches(videos, processor):
    """Workers started by spawn (macOS's default; Python 3.14's forkserver likewise pickles the collator) rebuild
    the collator from its pickle: the same augmented training batches as decoding in the main process."""
    collator = VideoClipCollator(processor, train=True, seed=3, bad_video="skip")
    collator.set_epoch(1)
    expected = [batch["pixel_values_videos"] for batch in
                torch.utils.data.DataLoader(videos, batch_size=2, collate_fn=collator)]
    loader = torch.utils.data.DataLoader(videos, batch_size=2, collate_fn=collator, num_workers=1,
                                         multiprocessing_context="spawn", timeout=120)
    got = [batch["pixel_values_videos"] for batch in loader]
    assert len(got) == len(expected) == 2
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_persistent_workers_follow_set_epoch(videos, processor, start):
    """Workers kept across epochs (`dataloader_persistent_workers=True`) collate each epoch with the epoch that
    `set_epoch` wrote after they started: the in-process batches of that epoch, not those of the first."""
    collator = VideoClipCollator(processor, train=True, seed=3)
    loader = torch.utils.data.DataLoader(videos, batch_size=3, collate_fn=collator, num_workers=1,
                                         persistent_workers=True, multiprocessing_context=start, timeout=120)
    epochs = []
    for epoch in range(2):
        collator.set_epoch(epoch)
        in_process = collator(videos)["pixel_values_videos"]
        (batch,) = list(loader)
        assert torch.equal(batch["pixel_values_videos"], in_process)
        epochs.append(in_process)
    assert not torch.equal(epochs[0], epochs[1])
