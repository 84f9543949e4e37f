import pytest
import torch

from hfvideoclip.models.video_clip.video_sampling import segment_frame_indices


def test_one_clip_takes_segment_centres():
    indices = segment_frame_indices(80, 8)
    assert indices.dtype == torch.int64
    assert indices.tolist() == [[5, 15, 25, 35, 45, 55, 65, 75]]


def test_three_test_clips_spread_inside_each_segment():
    # Segments of 10 frames; offsets 1/6, 3/6, 5/6 of a segment -> 1.67, 5, 8.33 -> 1, 5, 8.
    indices = segment_frame_indices(80, 8, num_clips=3)
    assert indices.shape == (3, 8)
    assert indices[0].tolist() == [1, 11, 21, 31, 41, 51, 61, 71]
    assert indices[1].tolist() == [5, 15, 25, 35, 45, 55, 65, 75]
    assert indices[2].tolist() == [8, 18, 28, 38, 48, 58, 68, 78]


def test_fractional_segments():
    # 30 frames / 8 = 3.75 per segment; centres at 1.875, 5.625, ..., 28.125.
    assert segment_frame_indices(30, 8).tolist() == [[1, 5, 9, 13, 16, 20, 24, 28]]
    # 100 / 3 = 33.33..: centres 16.67, 50.0, 83.33 (50 exactly, no float off-by-one).
    assert segment_frame_indices(100, 3).tolist() == [[16, 50, 83]]


def test_short_video_repeats_frames():
    # 3 frames, 8 wanted: segment 0.375 frames, centres 0.19, 0.56, 0.94, 1.31, 1.69, 2.06, 2.44, 2.81.
    assert segment_frame_indices(3, 8).tolist() == [[0, 0, 0, 1, 1, 2, 2, 2]]
    assert segment_frame_indices(1, 4, num_clips=2).tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]
    train = segment_frame_indices(3, 8, train=True, generator=torch.Generator().manual_seed(0))
    assert train.shape == (1, 8) and int(train.min()) >= 0 and int(train.max()) <= 2


def test_train_offsets_stay_in_their_segment_and_cover_it():
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        indices = segment_frame_indices(80, 8, num_clips=2, train=True, generator=generator)
        assert indices.shape == (2, 8)
        segment = torch.arange(8) * 10
        assert bool(((indices >= segment) & (indices < segment + 10)).all())
        seen.update((indices - segment).flatten().tolist())
    assert seen == set(range(10))


def test_train_is_reproducible_and_random():
    a = segment_frame_indices(300, 8, num_clips=3, train=True, generator=torch.Generator().manual_seed(1))
    b = segment_frame_indices(300, 8, num_clips=3, train=True, generator=torch.Generator().manual_seed(1))
    c = segment_frame_indices(300, 8, num_clips=3, train=True, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # clips draw their own offsets


def test_indices_are_sorted_and_in_range():
    for total in (1, 2, 7, 8, 9, 31, 250, 301):
        for train in (False, True):
            indices = segment_frame_indices(total, 8, num_clips=3, train=train)
            assert int(indices.min()) >= 0 and int(indices.max()) < total
            assert bool((indices[:, 1:] >= indices[:, :-1]).all())


@pytest.mark.parametrize(
    "args, match",
    [((0, 8), "num_total"), ((-5, 8), "num_total"), ((10, 0), "num_frames"), ((10, 8, 0), "num_clips")],
)
def test_invalid_arguments(args, match):
    total, frames, *clips = args
    with pytest.raises(ValueError, match=match):
        segment_frame_indices(total, frames, num_clips=clips[0] if clips else 1)


def test_non_int_arguments_are_rejected():
    with pytest.raises(TypeError, match="num_total"):
        segment_frame_indices(10.0, 8)
