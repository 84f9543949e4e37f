"""Files with more than one stream, as most videos people own are: an audio track (first or second), two video
streams. Each test checks the decoded frames, not only that no exception is raised."""

import io

import av
import numpy as np
import pytest
import torch

from hfvideoclip.models.video_clip.video_decoding import decode_video

FRAMES = (np.random.default_rng(0).random((12, 32, 48, 3)) * 255).astype(np.uint8)


def _encode(path, video_sizes=((48, 32),), audio: str | None = None):
    """An mp4 with H.264 streams of `video_sizes` (each showing FRAMES resized) and optionally an AAC track placed
    'first' or 'last' in the stream order."""
    with av.open(path, "w", format="mp4") as container:
        audio_stream = container.add_stream("aac", rate=16000) if audio == "first" else None
        streams = []
        for width, height in video_sizes:
            stream = container.add_stream("libx264", rate=8)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.thread_count = 1
            streams.append(stream)
        if audio == "last":
            audio_stream = container.add_stream("aac", rate=16000)
        for frame in FRAMES:
            for stream in streams:
                image = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(stream.width, stream.height)
                for packet in stream.encode(image):
                    container.mux(packet)
        for stream in streams:
            for packet in stream.encode():
                container.mux(packet)
        if audio_stream is not None:
            for index in range(12):
                samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                samples.sample_rate, samples.pts = 16000, index * 1024
                for packet in audio_stream.encode(samples):
                    container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)


@pytest.mark.parametrize("audio", ["first", "last"])
def test_an_audio_track_is_ignored_and_the_frames_are_the_video_only_files(tmp_path, audio):
    _encode(tmp_path / "plain.mp4")
    _encode(tmp_path / "with_audio.mp4", audio=audio)
    with av.open(str(tmp_path / "with_audio.mp4")) as container:
        assert sorted(s.type for s in container.streams) == ["audio", "video"]
    expected = decode_video(str(tmp_path / "plain.mp4"), 6)
    got = decode_video(str(tmp_path / "with_audio.mp4"), 6)
    assert got.shape == expected.shape == (1, 6, 32, 48, 3)
    assert torch.equal(got, expected)


def test_of_two_video_streams_the_larger_one_is_decoded(tmp_path):
    _encode(tmp_path / "two.mp4", video_sizes=((24, 16), (48, 32)), audio="last")
    _encode(tmp_path / "plain.mp4")
    got = decode_video(str(tmp_path / "two.mp4"), 4)
    assert got.shape == (1, 4, 32, 48, 3)
    assert torch.equal(got, decode_video(str(tmp_path / "plain.mp4"), 4))  # that stream's own pictures


def test_bytes_with_audio_decode_too():
    buffer = io.BytesIO()
    _encode(buffer, audio="first")
    assert decode_video(buffer.getvalue(), 3).shape == (1, 3, 32, 48, 3)
