"""Video inputs beyond files and arrays: http(s) URLs (opened by FFmpeg) and lists of frames (PIL images or
(H, W, 3) arrays) taken as one video."""

import functools
import http.server
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from hfvideoclip import VideoClipProcessor, VideoClipVideoProcessor
from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.models.video_clip.video_decoding import decode_video, is_url
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.toy.tokenizer import build_tokenizer

SERVER_LIFETIME_S = 120  # the server stops by itself after this, even if a test hangs


def frames(count=12, height=40, width=48, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((count, height, width, 3)) * 255).astype(np.uint8)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`(base_url, folder)`: a local HTTP server on 127.0.0.1 serving `folder` (with `clip.mp4`), in a daemon
    thread that answers requests until the tests end or `SERVER_LIFETIME_S` has passed."""
    folder = tmp_path_factory.mktemp("www")
    write_mp4(frames(), folder / "clip.mp4", fps=8)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(folder)))
    server.timeout = 0.2
    server.daemon_threads = True
    stop = threading.Event()
    deadline = time.monotonic() + SERVER_LIFETIME_S

    def serve():
        while not stop.is_set() and time.monotonic() < deadline:
            server.handle_request()
        server.server_close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    stop.set()
    thread.join(timeout=5)


def test_url_decodes_like_the_local_file(served):
    base, folder = served
    url = f"{base}/clip.mp4"
    assert is_url(url) and not is_url(str(folder / "clip.mp4")) and not is_url("C://video.mp4")
    assert torch.equal(decode_video(url, 4), decode_video(folder / "clip.mp4", 4))
    processor = VideoClipVideoProcessor(num_frames=4, size=32)
    from_url = processor(url, return_metadata=True)
    torch.testing.assert_close(from_url["pixel_values_videos"],
                               processor(str(folder / "clip.mp4"))["pixel_values_videos"], rtol=0, atol=0)
    assert from_url["video_metadata"][0]["total_num_frames"] == 12


def test_missing_url_and_missing_path_say_what_is_wrong(served, tmp_path):
    base, _ = served
    with pytest.raises(VideoDecodingError, match=r"Could not open video URL '.*/missing.mp4'.*404") as raised:
        decode_video(f"{base}/missing.mp4", 4)
    assert "\n" not in str(raised.value)
    with pytest.raises(VideoDecodingError, match="Video file not found"):
        decode_video(tmp_path / "missing.mp4", 4)


def test_list_of_frames_is_one_video():
    """A list of PIL images or of (H, W, 3) arrays is one video: the pixels of the (T, H, W, 3) array."""
    video = frames()
    processor = VideoClipVideoProcessor(num_frames=4, size=32)
    expected = processor(video)["pixel_values_videos"]
    assert expected.shape == (1, 4, 3, 32, 32)
    for as_list in (list(video), [Image.fromarray(f) for f in video], [torch.from_numpy(f) for f in video]):
        assert torch.equal(processor(as_list)["pixel_values_videos"], expected)
    # a list of such lists is a batch of videos
    batch = processor([list(video), [Image.fromarray(f) for f in frames(seed=1)]])["pixel_values_videos"]
    assert batch.shape == (2, 4, 3, 32, 32) and torch.equal(batch[:1], expected)
    combined = VideoClipProcessor(build_tokenizer(["a"]), processor)
    assert torch.equal(combined(videos=[Image.fromarray(f) for f in video])["pixel_values_videos"], expected)
