"""A corpus of awkward video files, written with PyAV at test time (each <= 16 frames, <= 64 px): phone rotation,
non-square pixels, variable frame rate and dropped frames, odd sizes, 10-bit, grey and palette pictures, old and
new codecs and containers, one-frame, truncated, empty and fake files, and every kind of input.

Each test names the property and checks the decoded frames (or the error text), not only that nothing raises.
Frames are flat grey at ``grey(i)`` so their index can be read back from the pixels; rotation tests use noise
with a white corner marker so that any wrong turn shows. Encoders this FFmpeg build lacks make their test skip
with the reason.

How the files with a display matrix are made: PyAV 18's ``VideoStream.set_display_rotation(degrees, hflip,
vflip)`` (counter-clockwise degrees, as ``VideoFrame.rotation`` reads them back) and ``set_display_matrix`` put
FFmpeg ``DISPLAYMATRIX`` side data on the stream, which the mp4/mov muxer writes into the ``tkhd`` matrix (and
matroska into its projection). No byte patching is needed. Non-square pixels: ``codec_context.sample_aspect_ratio``
(H.264 VUI, mp4 ``pasp``). Variable frame rate: frames with explicit ``pts`` in a 1/10 s time base.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.models.video_clip.video_decoding import count_frames, decode_video, video_to_tensor
from hfvideoclip.models.video_clip.video_sampling import segment_frame_indices


def grey(i: int) -> int:
    return 16 * i + 16


def frame_ids(video: torch.Tensor) -> list[int]:
    """Frame indices read back from the flat grey level of each frame."""
    return ((video.float().mean(dim=(-1, -2, -3)) - 16) / 16).round().long().flatten().tolist()


def need_encoder(*names: str) -> None:
    for name in names:
        available = name in av.codecs_available
        if available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # a decoder of that name only
                available = False
        if not available:
            pytest.skip(f"this FFmpeg build has no {name} encoder")


def grey_frames(n: int, width: int, height: int, pix_fmt: str = "rgb24"):
    if pix_fmt == "pal8":  # palette pictures: index i of a grey palette
        palette = np.zeros((256, 4), np.uint8)  # ARGB
        palette[:, 0] = 255
        for i in range(15):
            palette[i, 1:] = grey(i)
        return [
            av.VideoFrame.from_ndarray((np.full((height, width), i, np.uint8), palette), format="pal8")
            for i in range(n)
        ]
    images = (np.full((height, width, 3), grey(i), np.uint8) for i in range(n))
    return [av.VideoFrame.from_ndarray(image, format="rgb24") for image in images]


def write(
    path,
    codec: str = "libx264",
    fmt: str = "mp4",
    *,
    size: tuple[int, int] = (64, 48),
    pix_fmt: str = "yuv420p",
    frames=None,
    rate: int = 8,
    pts: list[int] | None = None,
    options: dict | None = None,
    container_options: dict | None = None,
    gop: int | None = None,
    color_range: int | None = None,
    setup=None,
):
    """Encode ``frames`` (default: 12 flat grey frames) with ``codec`` into ``fmt``; ``pts`` in 1/10 s gives
    variable frame rate; ``setup(stream)`` runs before the first frame (display matrix, aspect ratio)."""
    width, height = size
    if frames is None:
        frames = grey_frames(12, width, height, "pal8" if pix_fmt == "pal8" else "rgb24")
    with av.open(str(path) if isinstance(path, Path) else path, "w", format=fmt,
                 options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.thread_count = 1
        if gop is not None:
            stream.codec_context.gop_size = gop
        if color_range is not None:
            stream.codec_context.color_range = color_range
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 10)
            stream.time_base = Fraction(1, 10)
        if setup is not None:
            setup(stream)
        for i, frame in enumerate(frames):
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 10)
            if color_range is not None:
                frame.color_range = color_range
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def one_line_error(call, *needles: str) -> str:
    with pytest.raises(VideoDecodingError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


# ============================================================================================ rotation
W, H = 48, 32
NOISE = (np.random.default_rng(0).random((4, H, W, 3)) * 255).astype(np.uint8)
NOISE[:, :8, :8] = 255  # marker in the stored picture's top-left corner


def noise_frames():
    return [av.VideoFrame.from_ndarray(f, format="rgb24") for f in NOISE]


def write_noise(path, fmt="mp4", setup=None, pix_fmt="yuv444p"):
    return write(path, fmt=fmt, size=(W, H), pix_fmt=pix_fmt, frames=noise_frames(), setup=setup)


def marker_corner(video: torch.Tensor) -> str:
    """Which corner of the (first) decoded frame holds the white marker."""
    frame = video.reshape(-1, *video.shape[-3:])[0].float().mean(dim=-1)
    corners = {
        "top-left": frame[:6, :6], "top-right": frame[:6, -6:],
        "bottom-left": frame[-6:, :6], "bottom-right": frame[-6:, -6:],
    }
    return max(corners, key=lambda k: float(corners[k].mean()) - float(corners[k].std()))


@pytest.fixture(scope="module")
def upright(tmp_path_factory):
    root = tmp_path_factory.mktemp("upright")
    return {fmt: write_noise(root / f"upright.{fmt}", fmt) for fmt in ("mp4", "mov")}


@pytest.mark.parametrize("fmt", ["mp4", "mov"])
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_display_matrix_rotation_turns_frames_as_players_show_them(tmp_path, upright, fmt, degrees):
    """A file whose display matrix says "rotate by `degrees` counter-clockwise" (FFmpeg's and PyAV's sign,
    VideoFrame.rotation) decodes to the upright file's frames turned by torch.rot90 k = degrees / 90 over
    (H, W); H and W swap for 90 and 270."""
    rotated = write_noise(tmp_path / f"rotated.{fmt}", fmt, setup=lambda s: s.set_display_rotation(degrees))
    with av.open(str(rotated)) as container:
        assert next(container.decode(video=0)).rotation == (degrees + 180) % 360 - 180  # what FFmpeg reads
    plain = decode_video(upright[fmt], 3)
    turned = decode_video(rotated, 3)
    expected = torch.rot90(plain, k=degrees // 90, dims=(2, 3))
    assert turned.shape == expected.shape == ((1, 3, W, H, 3) if degrees % 180 else (1, 3, H, W, 3))
    assert torch.equal(turned, expected)
    corner = {90: "bottom-left", 180: "bottom-right", 270: "top-right"}[degrees]  # counter-clockwise turns
    assert marker_corner(turned) == corner
    assert torch.equal(video_to_tensor(rotated)[:3], torch.rot90(video_to_tensor(upright[fmt])[:3], degrees // 90,
                                                                 dims=(1, 2)))


def test_phone_portrait_matrix_is_shown_upright(tmp_path, upright):
    """A phone held upright records landscape pictures and the tkhd matrix (0, 1, -1, 0) ("rotate=90": FFmpeg
    reads -90 degrees): players turn the picture clockwise, so the stored top-left corner ends top-right."""
    one = 1 << 16  # 16.16 fixed point
    matrix = [0, one, 0, -one, 0, 0, 0, 0, 1 << 30]
    path = write_noise(tmp_path / "portrait.mov", "mov", setup=lambda s: s.set_display_matrix(matrix))
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).rotation == -90
    video = decode_video(path, 3)
    assert video.shape == (1, 3, W, H, 3)  # portrait
    assert marker_corner(video) == "top-right"
    assert torch.equal(video, torch.rot90(decode_video(upright["mov"], 3), k=-1, dims=(2, 3)))


def ffplay_autorotate(video: torch.Tensor, m: list[int]) -> torch.Tensor:
    """What ffplay/ffmpeg show for display matrix `m` (fftools' autorotate: transpose / hflip / vflip filters),
    written independently of the library's code as an oracle. `video` is (..., H, W, 3)."""
    rows, cols = video.ndim - 3, video.ndim - 2
    scale0, scale1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    theta = math.degrees(math.atan2(m[1] / scale1, m[0] / scale0))  # -av_display_rotation_get
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    clock = lambda v: torch.rot90(v, -1, dims=(rows, cols))  # noqa: E731
    cclock = lambda v: torch.rot90(v, 1, dims=(rows, cols))  # noqa: E731
    if abs(theta - 90) < 1:
        return torch.flip(cclock(video), dims=(rows,)) if m[3] > 0 else clock(video)  # cclock_flip : clock
    if abs(theta - 270) < 1:
        return torch.flip(clock(video), dims=(rows,)) if m[3] < 0 else cclock(video)  # clock_flip : cclock
    if abs(theta - 180) < 1:
        if m[0] < 0:
            video = torch.flip(video, dims=(cols,))
        if m[4] < 0:
            video = torch.flip(video, dims=(rows,))
        return video
    return torch.flip(video, dims=(rows,)) if m[4] < 0 else video


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_all_eight_display_orientations_match_ffplay(tmp_path, upright, degrees, mirror):
    """Rotations with and without mirroring (the eight EXIF-like orientations) come out as ffplay shows them."""
    path = write_noise(tmp_path / "oriented.mp4", setup=lambda s: s.set_display_rotation(degrees, hflip=mirror))
    with av.open(str(path)) as container:
        side_data = next(container.decode(video=0)).side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
        matrix = np.frombuffer(bytes(side_data), np.int32).tolist() if side_data is not None else [1, 0, 0, 0, 1]
    expected = ffplay_autorotate(decode_video(upright["mp4"], 3), matrix)
    assert torch.equal(decode_video(path, 3), expected)


# ============================================================================================ aspect ratio
def quadrant_frames(n=3, width=W, height=H):
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (255, 0, 0)
    image[: height // 2, width // 2 :] = (0, 0, 255)
    image[height // 2 :, : width // 2] = (0, 255, 0)
    image[height // 2 :, width // 2 :] = (255, 255, 255)
    return [av.VideoFrame.from_ndarray(image, format="rgb24") for _ in range(n)]


def quadrant_colours(frame: torch.Tensor) -> list[list[int]]:
    """Mean RGB of the inner part of each quadrant (TL, TR, BL, BR) of an (H, W, 3) frame."""
    h, w = frame.shape[0] // 2, frame.shape[1] // 2
    mh, mw = h // 4, w // 4
    out = []
    for top, left in ((0, 0), (0, w), (h, 0), (h, w)):
        block = frame[top + mh : top + h - mh, left + mw : left + w - mw].float()
        out.append([round(float(c)) for c in block.mean(dim=(0, 1))])
    return out


def close(a, b, tol=12):
    return all(abs(x - y) <= tol for qa, qb in zip(a, b) for x, y in zip(qa, qb))


QUADRANTS = [[255, 0, 0], [0, 0, 255], [0, 255, 0], [255, 255, 255]]


@pytest.mark.parametrize("sar, shape", [(Fraction(2, 1), (H, 2 * W)), (Fraction(1, 2), (2 * H, W)),
                                        (Fraction(4, 3), (H, 64))])
def test_non_square_pixels_are_stretched_to_the_display_aspect_ratio(tmp_path, sar, shape):
    """Pixels `sar` times as wide as high: the axis that grows is stretched (no resolution lost), so the frame
    has the display aspect ratio and the picture's layout is kept."""
    path = tmp_path / "anamorphic.mp4"

    def setup(stream):
        stream.codec_context.sample_aspect_ratio = sar

    write(path, size=(W, H), pix_fmt="yuv444p", frames=quadrant_frames(), setup=setup)
    with av.open(str(path)) as container:
        assert container.streams.video[0].sample_aspect_ratio == sar  # the file really carries it
        dar = container.streams.video[0].display_aspect_ratio
    video = decode_video(path, 2)
    assert video.shape == (1, 2, *shape, 3)
    assert abs(shape[1] / shape[0] - float(dar)) < 0.05
    assert close(quadrant_colours(video[0, 0]), QUADRANTS)


def test_rotation_applies_to_the_stretched_picture(tmp_path):
    """Non-square pixels are stretched in the stored picture's axes, then the display matrix turns it."""
    def sar_only(stream):
        stream.codec_context.sample_aspect_ratio = Fraction(2, 1)

    def sar_and_rotation(stream):
        sar_only(stream)
        stream.set_display_rotation(90)

    plain = write(tmp_path / "sar.mp4", size=(W, H), pix_fmt="yuv444p", frames=quadrant_frames(), setup=sar_only)
    rotated = write(tmp_path / "sar_rot.mp4", size=(W, H), pix_fmt="yuv444p", frames=quadrant_frames(),
                    setup=sar_and_rotation)
    expected = torch.rot90(decode_video(plain, 2), 1, dims=(2, 3))
    got = decode_video(rotated, 2)
    assert got.shape == (1, 2, 2 * W, H, 3)
    assert torch.equal(got, expected)


# ============================================================================================ frame timing
def shown_at(pts: list[int], positions: list[int]) -> list[int]:
    """Index of the frame on screen at each time position (frames in presentation order)."""
    return [max(i for i, p in enumerate(pts) if p <= t) for t in positions]


VFR_CONTAINERS = [("mp4", "libx264"), ("matroska", "libx264"), ("avi", "mjpeg")]


def write_timed(path, fmt, codec, pts, content):
    pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    frames = [av.VideoFrame.from_ndarray(np.full((48, 64, 3), grey(c), np.uint8), format="rgb24") for c in content]
    return write(path, codec, fmt, pix_fmt=pix_fmt, frames=frames, pts=pts, rate=10)


@pytest.mark.parametrize("fmt, codec", VFR_CONTAINERS)
def test_variable_frame_rate_samples_the_frames_shown_at_the_segment_times(tmp_path, fmt, codec):
    """Five frames one second apart, then a burst of ten frames 0.1 s apart (6 s in all): the 6 segment centres
    (0.5 s, 1.5 s, ..., 5.5 s) show frames 0, 1, 2, 3, 4 and the 6th of the burst; counting frames would give
    1, 3, 6, 8, 11, 13."""
    pts = [0, 10, 20, 30, 40] + list(range(50, 60))  # in 1/10 s
    path = write_timed(tmp_path / f"vfr.{fmt}", fmt, codec, pts, range(len(pts)))
    video = decode_video(path, 6)
    assert frame_ids(video) == [0, 1, 2, 3, 4, 10] == shown_at(pts, [5, 15, 25, 35, 45, 55])
    assert frame_ids(video) != segment_frame_indices(len(pts), 6).flatten().tolist()
    # Training offsets: every sampled frame is on screen somewhere inside its segment.
    ends = pts[1:] + [60]
    for seed in range(3):
        clips = decode_video(path, 6, num_clips=2, train=True, generator=torch.Generator().manual_seed(seed))
        for clip in frame_ids(clips[0]), frame_ids(clips[1]):
            for segment, k in enumerate(clip):
                assert pts[k] < (segment + 1) * 10 and ends[k] > segment * 10, (clip, segment, k)


@pytest.mark.parametrize("fmt, codec", VFR_CONTAINERS)
def test_dropped_frames_show_the_last_frame_before_the_gap(tmp_path, fmt, codec):
    """A 10 fps recording of 1.5 s that lost frames 5-10 (frames are painted with their time slot): at the
    segment centres 0.15 s, 0.45 s, 0.75 s, 1.05 s and 1.35 s the frames on screen are 1, 4, 4, 4 and 13;
    counting the 9 frames would give slots 0, 2, 4, 12, 14."""
    slots = [0, 1, 2, 3, 4, 11, 12, 13, 14]
    path = write_timed(tmp_path / f"dropped.{fmt}", fmt, codec, slots, slots)
    assert frame_ids(decode_video(path, 5)) == [1, 4, 4, 4, 13]
    with av.open(str(path)) as container:
        header_count = container.streams.video[0].frames
    if fmt == "avi":
        assert header_count == 15  # AVI keeps the time slots of dropped frames: a header count that is wrong
    assert count_frames(path) == 9


def test_constant_frame_rate_is_sampled_by_frame_count(tmp_path):
    """Evenly spaced frames give exactly segment_frame_indices over the frame count, also with timestamps
    rounded to a millisecond time base (matroska at 30 fps: intervals of 33 and 34 ms). There, 5 segments of 10
    frames have their centres exactly on frame starts (frames 1, 3, 5, 7, 9), which the rounded timestamps
    would shift to 1, 2, 4, 7, 8."""
    frames = grey_frames(10, 64, 48)
    path = write(tmp_path / "cfr.mkv", fmt="matroska", frames=frames, rate=30)
    with av.open(str(path)) as container:
        pts = [p.pts for p in container.demux(video=0) if p.size]
        assert len(set(np.diff(sorted(pts)).tolist())) == 2  # 33 and 34 ms
    assert frame_ids(decode_video(path, 5)) == [1, 3, 5, 7, 9]
    for num_frames, num_clips in ((8, 1), (5, 3), (20, 1)):
        expected = segment_frame_indices(10, num_frames, num_clips=num_clips).flatten().tolist()
        assert frame_ids(decode_video(path, num_frames, num_clips=num_clips)) == expected


# ============================================================================================ the corpus
@dataclass
class Case:
    write: dict  # arguments of write()
    decoded_format: str  # pixel format the decoder gives: proves the file has the named property
    size: tuple[int, int] = (64, 48)  # (W, H)
    encoders: tuple[str, ...] = ("libx264",)
    decoder: str | None = None  # a decoder to require (AV1 has no native software decoder)


X265_QUIET = {"x265-params": "log-level=none"}
ODD = (33, 17)
CORPUS = {
    "odd size 33x17 yuv444p (H.264 mp4)": Case(dict(size=ODD, pix_fmt="yuv444p"), "yuv444p", ODD),
    "odd size 33x17 yuv420p (VP9 webm)": Case(dict(codec="libvpx-vp9", fmt="webm", size=ODD), "yuv420p", ODD,
                                              ("libvpx-vp9",)),
    "odd size 33x17 yuv420p (FFV1 mkv)": Case(dict(codec="ffv1", fmt="matroska", size=ODD), "yuv420p", ODD,
                                              ("ffv1",)),
    "VP9 webm": Case(dict(codec="libvpx-vp9", fmt="webm"), "yuv420p", encoders=("libvpx-vp9",)),
    "VP8 webm": Case(dict(codec="libvpx", fmt="webm"), "yuv420p", encoders=("libvpx",)),
    "Theora ogv": Case(dict(codec="libtheora", fmt="ogg"), "yuv420p", encoders=("libtheora",)),
    "AV1 mp4": Case(dict(codec="libsvtav1", fmt="mp4"), "yuv420p", encoders=("libsvtav1",), decoder="libdav1d"),
    "MJPEG avi": Case(dict(codec="mjpeg", fmt="avi", pix_fmt="yuvj420p"), "yuvj420p", encoders=("mjpeg",)),
    "MPEG-4 part 2 avi (XviD-style, as UCF101)": Case(dict(codec="mpeg4", fmt="avi"), "yuv420p",
                                                      encoders=("mpeg4",)),
    "MPEG-2 transport stream": Case(dict(codec="mpeg2video", fmt="mpegts"), "yuv420p", encoders=("mpeg2video",)),
    "GIF (palette pictures)": Case(dict(codec="gif", fmt="gif", pix_fmt="pal8"), "bgra", encoders=("gif",)),
    "palette pal8 (PNG in mov)": Case(dict(codec="png", fmt="mov", pix_fmt="pal8"), "pal8", encoders=("png",)),
    "10-bit yuv420p10le (H.264 mp4)": Case(dict(pix_fmt="yuv420p10le"), "yuv420p10le"),
    "10-bit yuv420p10le (HEVC mp4)": Case(dict(codec="libx265", pix_fmt="yuv420p10le", options=X265_QUIET),
                                          "yuv420p10le", encoders=("libx265",)),
    "10-bit 4:2:2 ProRes mov": Case(dict(codec="prores_ks", fmt="mov", pix_fmt="yuv422p10le"), "yuv422p10le",
                                    encoders=("prores_ks",)),
    "yuv444p (H.264 mp4)": Case(dict(pix_fmt="yuv444p"), "yuv444p"),
    "yuv422p (H.264 mkv)": Case(dict(fmt="matroska", pix_fmt="yuv422p"), "yuv422p"),
    "full-range yuv420p (H.264 mp4, as many phones)": Case(dict(color_range=2), "yuvj420p"),
    "grey (gray, FFV1 mkv)": Case(dict(codec="ffv1", fmt="matroska", pix_fmt="gray"), "gray", encoders=("ffv1",)),
    "grey (H.264 4:0:0, full range)": Case(dict(pix_fmt="gray", color_range=2), "yuvj420p"),
}
SUFFIX = {"matroska": "mkv", "mpegts": "ts", "ogg": "ogv"}


@pytest.mark.parametrize("kind", list(CORPUS))
def test_corpus_file_decodes_to_the_sampled_frames(tmp_path, kind):
    case = CORPUS[kind]
    need_encoder(*case.encoders)
    if case.decoder is not None and case.decoder not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {case.decoder} decoder")
    fmt = case.write.get("fmt", "mp4")
    path = write(tmp_path / f"video.{SUFFIX.get(fmt, fmt)}", **case.write)
    with av.open(str(path)) as container:  # the file has the property the test is named after
        assert next(container.decode(video=0)).format.name == case.decoded_format
    width, height = case.size
    video = decode_video(path, 8, num_clips=2)
    assert video.shape == (2, 8, height, width, 3)
    assert frame_ids(video) == segment_frame_indices(12, 8, num_clips=2).flatten().tolist()
    assert count_frames(path) == 12
    everything = video_to_tensor(path)
    assert frame_ids(everything) == list(range(12))
    # Flat grey stays grey: no channel swap, no range or matrix mix-up beyond a few levels.
    assert (video.float().std(dim=-1) < 6).float().mean() > 0.99


def test_one_frame_video_repeats_its_frame_to_every_position(tmp_path):
    path = write(tmp_path / "still.mp4", frames=grey_frames(1, 64, 48))
    video = decode_video(path, 8, num_clips=3)
    assert video.shape == (3, 8, 48, 64, 3)
    assert frame_ids(video) == [0] * 24
    assert torch.equal(video, video[:1, :1].expand_as(video))
    train = decode_video(path, 8, train=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(train[0], video[0])


# ============================================================================================ broken files
def banded_frames(n: int):
    """Grey frames (rows 16+) under a band of fresh noise (rows 0-15), so that every frame costs about as many
    bytes and a cut lands between frames of the stream, not inside the first keyframe."""
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n):
        image = np.full((48, 64, 3), grey(i), np.uint8)
        image[:16] = rng.integers(0, 256, (16, 64, 3))
        frames.append(av.VideoFrame.from_ndarray(image, format="rgb24"))
    return frames


STREAMING = {
    # containers that hold no index of all frames: a cut file still holds its first frames
    "webm": dict(codec="libvpx-vp9", fmt="webm"),
    "mkv": dict(fmt="matroska"),
    "MPEG-TS": dict(fmt="mpegts"),
}


@pytest.mark.parametrize("kind", list(STREAMING))
def test_truncated_file_without_an_index_decodes_the_frames_that_are_there(tmp_path, kind):
    """A download cut at 60 %: the complete frames before the cut are sampled (as a shorter video). The partial
    frame at the cut is not returned (matroska drops it; MPEG-TS data that ends inside a 188-byte transport
    packet was cut, so its last frame is dropped): every returned frame is whole and in order."""
    kwargs = STREAMING[kind]
    need_encoder(kwargs.get("codec", "libx264"))
    full = write(tmp_path / "full", frames=banded_frames(15), gop=4, **kwargs)
    data = full.read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    present = count_frames(cut)
    assert 4 <= present < 15
    video = decode_video(cut, 8)
    assert frame_ids(video[..., 16:, :, :]) == segment_frame_indices(present, 8).flatten().tolist()
    everything = video_to_tensor(cut)
    assert everything.shape[0] == present
    assert frame_ids(everything[..., 16:, :, :]) == list(range(present))


def test_truncated_mp4_without_its_index_names_file_and_cause(tmp_path):
    """mp4 writes its index ('moov' box) after the frames: a cut file has frames but no way to find them."""
    full = write(tmp_path / "full.mp4", frames=grey_frames(15, 64, 48))
    data = full.read_bytes()
    for fraction, box in ((0.5, "'mdat' box"), (0.95, "'moov' box")):
        cut = tmp_path / f"cut_{fraction}.mp4"
        cut.write_bytes(data[: int(len(data) * fraction)])
        for source in (cut, str(cut), cut.read_bytes()):
            for call in (lambda: decode_video(source, 8), lambda: count_frames(source)):  # noqa: B023
                message = one_line_error(call, "truncated", box, "Re-download")
                assert (str(cut) if isinstance(source, (str, Path)) else "<bytes input>") in message


@pytest.mark.parametrize("movflags", ["faststart", "frag_keyframe+empty_moov"])
def test_truncated_mp4_whose_index_lists_missing_frames_names_file_and_cause(tmp_path, movflags):
    """Index in front (faststart), or per fragment (fragmented mp4): the file says which frames it should hold,
    so a cut is reported rather than decoded as a shorter video."""
    full = write(tmp_path / "full.mp4", frames=banded_frames(15), gop=4, container_options={"movflags": movflags})
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    for call in (lambda: decode_video(cut, 8), lambda: count_frames(cut)):
        one_line_error(call, str(cut), "truncated", "index lists")


def test_empty_file_names_file_and_cause(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    one_line_error(lambda: decode_video(path, 8), str(path), "empty")
    one_line_error(lambda: decode_video(b"", 8), "<bytes input>", "empty")


@pytest.mark.parametrize("content", ["text", "binary garbage"])
def test_file_named_mp4_that_is_not_a_video_names_file_and_cause(tmp_path, content):
    path = tmp_path / "clip.mp4"
    if content == "text":
        path.write_text("Title: my holiday\nThis is a text file saved with the wrong extension.\n" * 20)
    else:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    message = one_line_error(lambda: decode_video(path, 8), str(path))
    assert "not a video" in message or "Could not open" in message
    one_line_error(lambda: count_frames(path), str(path))


# ============================================================================================ inputs
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write(tmp_path_factory.mktemp("inputs") / "clip.mp4")


class _Unseekable(io.RawIOBase):
    """A pipe-like stream: read only."""

    def __init__(self, data: bytes):
        self._inner = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


INPUTS = {
    "str path": lambda p: str(p),
    "pathlib.Path": lambda p: p,
    "bytes": lambda p: p.read_bytes(),
    "bytearray": lambda p: bytearray(p.read_bytes()),
    "memoryview": lambda p: memoryview(p.read_bytes()),
    "io.BytesIO": lambda p: io.BytesIO(p.read_bytes()),
    "open binary file": lambda p: open(p, "rb"),
    "file positioned after a header": lambda p: _after_prefix(p.read_bytes()),
    "unseekable stream": lambda p: _Unseekable(p.read_bytes()),
    "datasets.Video value with a path": lambda p: {"path": str(p), "bytes": None},
    "datasets.Video value with embedded bytes": lambda p: {"path": "clip.mp4", "bytes": p.read_bytes()},
    "datasets.Video value with bytes only": lambda p: {"bytes": p.read_bytes()},
}


def _after_prefix(data: bytes):
    stream = io.BytesIO(b"HEADER" + data)
    stream.seek(6)
    return stream


@pytest.mark.parametrize("kind", list(INPUTS))
def test_every_input_kind_gives_the_same_frames(clip, kind):
    expected = decode_video(str(clip), 8, num_clips=2)
    assert frame_ids(expected) == segment_frame_indices(12, 8, num_clips=2).flatten().tolist()
    source = INPUTS[kind](clip)
    try:
        assert torch.equal(decode_video(source, 8, num_clips=2), expected)
    finally:
        if hasattr(source, "close"):
            source.close()


def test_a_real_datasets_video_column_decodes(clip):
    datasets = pytest.importorskip("datasets")
    by_path = datasets.Dataset.from_dict({"video": [str(clip)]}).cast_column("video", datasets.Video(decode=False))
    embedded = datasets.Dataset.from_dict(
        {"video": [{"path": "clip.mp4", "bytes": clip.read_bytes()}]},
        features=datasets.Features({"video": datasets.Video(decode=False)}),
    )
    expected = decode_video(clip, 8)
    for dataset in (by_path, embedded):
        assert torch.equal(decode_video(dataset[0]["video"], 8), expected)


def test_datasets_video_values_that_cannot_be_decoded_name_the_video(tmp_path):
    one_line_error(lambda: decode_video({"path": None, "bytes": None}, 8), "neither 'path' nor 'bytes'")
    missing = tmp_path / "gone.mp4"
    one_line_error(lambda: decode_video({"path": str(missing), "bytes": None}, 8), str(missing), "not found")
    embedded_empty = {"path": "clip.mp4", "bytes": b""}
    one_line_error(lambda: decode_video(embedded_empty, 8), "'clip.mp4' (embedded bytes)", "empty")
    one_line_error(lambda: decode_video({"path": "clip.mp4", "bytes": b"not a video" * 50}, 8), "'clip.mp4'")


# ============================================================================================ model inputs
@pytest.mark.parametrize("name", ["rotated 90 (mov)", "odd size 33x17 (yuv444p)", "10-bit (yuv420p10le)"])
def test_processor_views_of_awkward_files_are_the_float_pipeline_within_one_level(tmp_path, name):
    """The processor resizes decoded frames in uint8 (test view and training crop); on a rotated picture (a turned
    array), an odd size (upscaled: shorter side 17 -> 24) and a 10-bit file its test views stay within one level
    of the same pipeline written out in float32, and the training view has the crop's shape."""
    from hfvideoclip import VideoClipVideoProcessor
    from hfvideoclip.models.video_clip import video_transforms as T

    if name.startswith("rotated"):
        path = write_noise(tmp_path / "v.mov", "mov", setup=lambda s: s.set_display_rotation(90))
    elif name.startswith("odd"):
        path = write(tmp_path / "v.mp4", size=ODD, pix_fmt="yuv444p", frames=[
            av.VideoFrame.from_ndarray(f[:17, :33], format="rgb24") for f in NOISE])
    else:
        path = write(tmp_path / "v.mp4", size=(W, H), pix_fmt="yuv420p10le", frames=noise_frames())
    processor = VideoClipVideoProcessor(num_frames=4, size=24)
    views = processor(str(path), num_crops=3)["pixel_values_videos"]
    clip = decode_video(path, 4)[0].permute(0, 3, 1, 2).float()
    resized = T.resize_shorter_side(clip, 24)
    in_float = T.normalize(T.three_crop(resized, 24) / 255.0, processor.image_mean, processor.image_std)
    std = torch.tensor(processor.image_std).view(3, 1, 1)
    assert views.shape == in_float.shape == (3, 4, 3, 24, 24)
    assert ((views - in_float) * std * 255).abs().max() <= 1.0 + 1e-3
    from hfvideoclip.data.augment import AugmentationConfig, augmented_view

    clip = processor.load_clips(str(path), train=True, generator=torch.Generator().manual_seed(0))[0]
    train = augmented_view(processor, clip, AugmentationConfig(), torch.Generator().manual_seed(0))
    assert train.shape == (1, 4, 3, 24, 24) and torch.isfinite(train).all()
