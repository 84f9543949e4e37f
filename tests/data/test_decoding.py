import io
import wave

import av
import numpy as np
import pytest
import torch

from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.models.video_clip import video_decoding as decoding
from hfvideoclip.models.video_clip.video_decoding import (
    as_video_tensor,
    count_frames,
    decode_video,
    video_to_tensor,
)
from hfvideoclip.models.video_clip.video_sampling import segment_frame_indices

NUM_FRAMES = 30
HEIGHT, WIDTH = 48, 64


def level(i: int) -> int:
    """Grey level that frame i is painted with: 8 levels apart, far above H.264's error on flat frames."""
    return 8 * i + 8


def write_video(path_or_file, *, gop=None, fmt="mp4", codec="libx264", num_frames=NUM_FRAMES):
    with av.open(path_or_file, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"x264-params": "scenecut=0"}  # keyframes exactly every `gop` frames
        for i in range(num_frames):
            # Frame i is flat grey at level(i), with a flat colour block so that chroma moves too.
            image = np.full((HEIGHT, WIDTH, 3), level(i), np.uint8)
            image[: HEIGHT // 2, : WIDTH // 2] = (255, 0, 0) if i % 2 else (0, 0, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def frame_ids(video: torch.Tensor) -> list[int]:
    """Recover the frame index from the grey level of the bottom-right quarter of each frame."""
    grey = video[..., HEIGHT // 2 :, WIDTH // 2 :, :].float().mean(dim=(-1, -2, -3))
    return ((grey - 8) / 8).round().long().flatten().tolist()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    paths = {
        "dense": root / "dense_gop.mp4",  # keyframe every 5 frames -> seeks
        "sparse": root / "long_gop.mp4",  # x264 default keyframe interval (250) -> one keyframe
        "mkv": root / "video.mkv",
        "webm": root / "video.webm",
    }
    write_video(str(paths["dense"]), gop=5)
    write_video(str(paths["sparse"]))
    write_video(str(paths["mkv"]), fmt="matroska", gop=5)
    write_video(str(paths["webm"]), fmt="webm", codec="libvpx-vp9", gop=10)
    return paths


def keyframes(path) -> list[int]:
    with av.open(str(path)) as container:
        return [i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe]


def test_test_files_have_the_intended_keyframe_layout(videos):
    assert len(keyframes(videos["dense"])) == 6
    assert keyframes(videos["sparse"]) == [0]


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_decodes_the_requested_frames(videos, kind):
    video = decode_video(videos[kind], 8)
    assert video.dtype == torch.uint8
    assert video.shape == (1, 8, HEIGHT, WIDTH, 3)
    assert (
        frame_ids(video)
        == segment_frame_indices(NUM_FRAMES, 8).flatten().tolist()
        == [1, 5, 9, 13, 16, 20, 24, 28]
    )
    # The colour block alternates with the frame index: red on odd frames, blue on even ones.
    block = video[0, :, : HEIGHT // 2 - 4, : WIDTH // 2 - 4].float().mean(dim=(1, 2))
    for rgb, i in zip(block, [1, 5, 9, 13, 16, 20, 24, 28]):
        assert (rgb[0] > 200 and rgb[2] < 50) if i % 2 else (rgb[2] > 200 and rgb[0] < 50)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_all_source_kinds_give_the_same_frames(videos, kind):
    path = videos[kind]
    expected = decode_video(str(path), 8, num_clips=3)
    assert frame_ids(expected) == segment_frame_indices(NUM_FRAMES, 8, num_clips=3).flatten().tolist()
    data = path.read_bytes()
    assert torch.equal(decode_video(path, 8, num_clips=3), expected)  # pathlib.Path
    assert torch.equal(decode_video(data, 8, num_clips=3), expected)
    assert torch.equal(decode_video(bytearray(data), 8, num_clips=3), expected)
    assert torch.equal(decode_video(io.BytesIO(data), 8, num_clips=3), expected)
    with open(path, "rb") as f:
        assert torch.equal(decode_video(f, 8, num_clips=3), expected)


def _plan(path, wanted):
    source = decoding._Source(path)
    with source.open() as container:
        stream = container.streams.video[0]
        return decoding._plan(decoding._probe(container, stream, source.name), wanted)


def test_plans_differ_with_keyframe_density(videos, monkeypatch):
    """Dense keyframes give several seek runs, one keyframe gives a single sequential run."""
    wanted = segment_frame_indices(NUM_FRAMES, 8).flatten().tolist()
    assert len(_plan(videos["sparse"], wanted)) == 1
    monkeypatch.setattr(decoding, "_SEEK_COST", 0)  # seek whenever it saves a frame
    dense = _plan(videos["dense"], wanted)
    # Keyframes at 0, 5, ..., 25: frames 5 and 9 share a GOP, as do 20 and 24; the others need their own seek.
    assert [r.frames for r in dense] == [[1], [5, 9], [13], [16], [20, 24], [28]]
    assert [r.start for r in dense] == [0, 5, 10, 15, 20, 25]
    sparse = _plan(videos["sparse"], wanted)
    assert len(sparse) == 1 and sparse[0].start == 0


def test_seeking_sequential_and_counting_strategies_agree(videos, monkeypatch):
    path = videos["dense"]
    monkeypatch.setattr(decoding, "_SEEK_COST", 0)  # seek as much as possible
    seeking = decode_video(path, 8, num_clips=3)
    monkeypatch.setattr(decoding, "_SEEK_COST", 10**9)  # never seek: one sequential pass
    sequential = decode_video(path, 8, num_clips=3)
    monkeypatch.setattr(
        decoding._Decoder, "run_indexed", lambda self, runs, wanted: {}
    )  # timestamp-free fallback
    counted = decode_video(path, 8, num_clips=3)
    assert torch.equal(seeking, sequential)
    assert torch.equal(seeking, counted)
    # ... and they equal decoding every frame with plain PyAV.
    with av.open(str(path)) as container:
        everything = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    indices = segment_frame_indices(NUM_FRAMES, 8, num_clips=3)
    assert torch.equal(seeking, torch.from_numpy(everything)[indices])


@pytest.mark.parametrize("seek_cost", [0, None])
@pytest.mark.parametrize("kind", ["dense", "sparse", "mkv", "webm"])
def test_planned_decoding_needs_no_fallback(videos, monkeypatch, kind, seek_cost):
    def fail(*args, **kwargs):
        raise AssertionError("the planned decode missed frames and fell back to counting")

    monkeypatch.setattr(decoding._Decoder, "run_counted", fail)
    if seek_cost is not None:
        monkeypatch.setattr(decoding, "_SEEK_COST", seek_cost)
    video = decode_video(videos[kind], 8, num_clips=3)
    assert frame_ids(video) == segment_frame_indices(NUM_FRAMES, 8, num_clips=3).flatten().tolist()


def test_skipping_unneeded_frames_is_exact(videos, monkeypatch):
    with_skip = decode_video(videos["sparse"], 8)
    monkeypatch.setattr(decoding, "_NONREF_SKIP_CODECS", frozenset())
    assert torch.equal(decode_video(videos["sparse"], 8), with_skip)


def test_threaded_and_single_threaded_runs_agree(videos, monkeypatch):
    modes = []
    configure = decoding._configure_threads

    def spy(stream, runs):
        configure(stream, runs)
        modes.append(stream.thread_type)

    monkeypatch.setattr(decoding, "_configure_threads", spy)
    monkeypatch.setattr(decoding, "usable_cores", lambda: 10**6)  # idle cores whatever the machine's load
    monkeypatch.setattr(decoding, "_MIN_THREADED_RUN", 0)
    threaded = decode_video(videos["sparse"], 8, num_clips=2)
    monkeypatch.setattr(decoding, "_MIN_THREADED_RUN", 10**9)
    single = decode_video(videos["sparse"], 8, num_clips=2)
    assert [str(m) for m in modes] != [str(modes[0])] * 2  # the two calls really decoded differently
    assert torch.equal(single, threaded)


class _Videos(torch.utils.data.Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return decode_video(self.paths[i], 8)[0]


def test_decoding_in_dataloader_workers(videos):
    """Workers are forked from a process that has decoded already (its cached converter must not hang them)."""
    paths = [str(videos["dense"]), str(videos["sparse"])]
    decode_video(paths[1], 8)
    loader = torch.utils.data.DataLoader(_Videos(paths), batch_size=2, num_workers=1, timeout=60)
    (batch,) = list(loader)
    assert batch.shape == (2, 8, HEIGHT, WIDTH, 3)
    assert frame_ids(batch) == [1, 5, 9, 13, 16, 20, 24, 28] * 2


def test_train_sampling_is_reproducible(videos):
    a = decode_video(videos["dense"], 8, num_clips=2, train=True, generator=torch.Generator().manual_seed(3))
    b = decode_video(videos["dense"], 8, num_clips=2, train=True, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    expected = segment_frame_indices(
        NUM_FRAMES, 8, num_clips=2, train=True, generator=torch.Generator().manual_seed(3)
    )
    assert frame_ids(a) == expected.flatten().tolist()


def test_more_frames_than_the_video_repeats_frames(videos):
    video = decode_video(videos["dense"], 40)
    assert video.shape[:2] == (1, 40)
    assert frame_ids(video) == segment_frame_indices(NUM_FRAMES, 40).flatten().tolist()


@pytest.mark.parametrize("kind", ["mkv", "webm"])
def test_containers_without_frame_count(videos, kind):
    with av.open(str(videos[kind])) as container:
        assert container.streams.video[0].frames == 0  # what makes counting necessary
    assert count_frames(videos[kind]) == NUM_FRAMES
    assert frame_ids(decode_video(videos[kind], 8)) == [1, 5, 9, 13, 16, 20, 24, 28]


def test_count_frames(videos):
    assert count_frames(videos["dense"]) == NUM_FRAMES
    assert count_frames(videos["sparse"].read_bytes()) == NUM_FRAMES


def test_video_to_tensor(videos):
    everything = video_to_tensor(videos["dense"])
    assert everything.shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
    assert frame_ids(everything) == list(range(NUM_FRAMES))
    assert frame_ids(video_to_tensor(videos["dense"], num_frames=8)) == [1, 5, 9, 13, 16, 20, 24, 28]
    assert torch.equal(video_to_tensor(everything.numpy()), everything)


# ------------------------------------------------------------------------------------------ bad input
def _audio_only_wav(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(800, np.int16).tobytes())


def _bad_inputs(tmp_path, videos):
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    audio = tmp_path / "sound.wav"
    _audio_only_wav(audio)
    data = videos["dense"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    return {
        "missing": (tmp_path / "does_not_exist.mp4", "not found"),
        "text file": (text, "not a video"),
        "empty file": (empty, "empty"),
        "audio only": (audio, "no video stream"),
        "truncated file": (truncated, "truncated"),
        "directory": (tmp_path, "directory"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "text file", "empty file", "audio only", "truncated file", "directory"]
)
def test_bad_files_raise_video_decoding_error_naming_the_path(tmp_path, videos, case):
    path, what = _bad_inputs(tmp_path, videos)[case]
    for call in (lambda: decode_video(path, 8), lambda: count_frames(path)):
        with pytest.raises(VideoDecodingError) as info:
            call()
        message = str(info.value)
        assert str(path) in message
        assert what in message
        assert isinstance(info.value, ValueError)
        # Failures inside PyAV are chained, not leaked: the cause is kept for debugging.
        if info.value.__cause__ is not None:
            assert isinstance(info.value.__cause__, (av.error.FFmpegError, OSError))


@pytest.mark.parametrize(
    "data, what",
    [
        (b"", "empty"),
        (b"\x00\x01garbage" * 100, "not a video"),
        ("truncated", "truncated"),
        ("corrupt header", "not a video"),
    ],
)
def test_bad_bytes_raise_video_decoding_error(videos, data, what):
    good = videos["dense"].read_bytes()
    if data == "truncated":
        data = good[: len(good) // 3]
    elif data == "corrupt header":
        data = b"\xff" * 64 + good[64:]
    with pytest.raises(VideoDecodingError, match=what) as info:
        decode_video(data, 8)
    assert "<bytes input>" in str(info.value)
    with pytest.raises(VideoDecodingError):
        decode_video(io.BytesIO(data), 8)


def test_truncated_data_with_the_index_in_front_is_detected(tmp_path):
    path = tmp_path / "faststart.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(NUM_FRAMES):
            image = np.full((HEIGHT, WIDTH, 3), level(i), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    assert frame_ids(decode_video(data, 8)) == [1, 5, 9, 13, 16, 20, 24, 28]
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    for call in (decode_video, lambda source, n: count_frames(source)):
        with pytest.raises(VideoDecodingError, match="truncated") as info:
            call(cut, 8)
        assert str(cut) in str(info.value)
    assert count_frames(path) == NUM_FRAMES


def test_unsupported_source_type():
    with pytest.raises(TypeError, match="path"):
        decode_video(12345, 8)


# ------------------------------------------------------------------------------------------ as_video_tensor
def test_as_video_tensor_accepts_decoded_layouts():
    thwc = torch.randint(0, 256, (4, 6, 5, 3), dtype=torch.uint8)
    assert torch.equal(as_video_tensor(thwc), thwc)
    assert torch.equal(as_video_tensor(thwc.numpy()), thwc)
    assert torch.equal(as_video_tensor(thwc.permute(0, 3, 1, 2)), thwc)  # (T, 3, H, W)
    assert torch.equal(as_video_tensor(thwc.float() / 255.0), thwc)  # float in [0, 1]
    assert torch.equal(as_video_tensor(thwc.double()), thwc)  # float in [0, 255]
    assert torch.equal(as_video_tensor(list(thwc.numpy())), thwc)  # list of (H, W, 3) frames


@pytest.mark.parametrize("shape", [(6, 5, 3), (4, 6, 5, 4), (4, 6, 5), (2, 4, 6, 5, 3), (0, 6, 5, 3)])
def test_as_video_tensor_rejects_other_shapes(shape):
    with pytest.raises(ValueError) as info:
        as_video_tensor(np.zeros(shape, np.uint8))
    message = str(info.value)
    assert str(shape) in message
    assert "(T, H, W, 3)" in message and "(T, 3, H, W)" in message


def test_decode_video_samples_decoded_frames_too():
    frames = torch.arange(10, dtype=torch.uint8)[:, None, None, None].expand(10, 2, 2, 3)
    clip = decode_video(frames, 4, num_clips=1)
    assert clip.shape == (1, 4, 2, 2, 3)
    assert clip[0, :, 0, 0, 0].tolist() == segment_frame_indices(10, 4)[0].tolist()


class _ThreadCounts(torch.utils.data.Dataset):
    """Decodes in a worker and reports the decoder thread count `_configure_threads` chose."""

    def __init__(self, path):
        self.path = path

    def __len__(self):
        return 1

    def __getitem__(self, i):
        chosen = []
        original = decoding._one_thread

        def spy(stream):
            original(stream)
            chosen.append(stream.codec_context.thread_count)

        decoding._one_thread = spy
        try:
            frames = decode_video(self.path, 8)[0]
        finally:
            decoding._one_thread = original
        return frames, torch.tensor(chosen)


def test_workers_decode_on_one_thread_each_with_the_same_frames(videos):
    """N workers x FFmpeg's one-thread-per-core default would oversubscribe the cores: a worker decodes on one."""
    in_process = decode_video(videos["dense"], 8)[0]
    loader = torch.utils.data.DataLoader(_ThreadCounts(str(videos["dense"])), batch_size=1, num_workers=1, timeout=60)
    (frames, chosen), = list(loader)
    assert chosen.tolist() == [[1]]
    assert torch.equal(frames[0], in_process)
