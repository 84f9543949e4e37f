"""Speed of sampling 8 frames from a video, and how decoding scales with DataLoader workers.

Generates, once per run into a temporary directory:

- two 10 s, 30 fps, 320x240 H.264 files: one with a keyframe every second (``-g 30``) and one with a keyframe
  every 10 s (``-g 300``: one keyframe in the file), the two ends of what cameras and encoders produce;
- a corpus of 3 s, 30 fps, 320x240 files in the formats users bring (H.264 with an AAC audio track, VP9 webm,
  MPEG-4 part 2 avi as UCF-101, MJPEG avi, 10-bit HEVC, Theora ogv), each where this FFmpeg has the encoder.

Per file it times sampling ``--frames`` frames (test mode, one clip: the segment centres) with

- ``decode_video``   : hfvideoclip's decoder (plans seeks / one threaded pass, skips unneeded frames);
- ``hf_load_video``  : ``transformers.video_utils.load_video(path, backend="pyav", sample_indices_fn=...)``
                       with the same frame indices;
- ``pyav_decode_all``: decode every frame (threaded) and convert each to RGB, then index: the baseline
                       (``frame.to_ndarray(format="rgb24")``, as typical code does);
- ``pyav_seek``      : naive PyAV, for every frame seek to it and decode forward (the two 10 s files only);
- ``decord``         : ``decord.VideoReader(path).get_batch(indices)``, when decord is importable (it is never a
                       dependency: ``pip install decord`` to compare).

Methods run interleaved, ``--repeats`` times each; the table gives the median wall time (and CPU time), its ratio
to decord and to ``hf_load_video`` measured in the same run, and each method's max pixel difference from the
baseline.

Worker scaling: ``--scaling_videos`` decodes of the 1-s-GOP file (8 frames each, 4 per batch) through a
``torch.utils.data.DataLoader`` with 0, 1 and 2 workers (and the machine's cores when more), clips per second
and the ratio to 0 workers (the training and evaluation data path: one video per worker, single-threaded), and
to the main process decoding on one thread as a worker does (0 workers otherwise use FFmpeg's slice threads).

    python benchmarks/bench_decode.py [--repeats 15] [--frames 8] [--scaling_videos 48]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader

from hfvideoclip.data.workers import usable_cores
from hfvideoclip.models.video_clip.video_decoding import decode_video
from hfvideoclip.models.video_clip.video_sampling import segment_frame_indices

try:  # optional comparison only
    import decord
except ImportError:  # pragma: no cover - depends on the machine
    decord = None

SIZE = (320, 240)
FPS = 30


def frame_image(i: int, texture: np.ndarray, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Moving gradients, a moving textured background and a sliding block: content encoders cannot skip over."""
    yy, xx = grid
    height, width = yy.shape
    img = np.empty((height, width, 3), np.int64)
    img[..., 0] = 128 + 100 * np.sin((xx + 3 * i) / 17.0)
    img[..., 1] = 128 + 100 * np.cos((yy - 2 * i) / 23.0 + xx / 40.0)
    img[..., 2] = (xx + yy + 2 * i) % 256
    img += texture[:, i % width: i % width + width]
    x0 = (7 * i) % (width - 40)
    img[60:100, x0: x0 + 40] = (255, 255, 0)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_test_video(path: Path, codec: str = "libx264", gop: int | None = None, seconds: int = 10,
                     pix_fmt: str = "yuv420p", fmt: str | None = None, audio: bool = False,
                     options: dict | None = None) -> None:
    width, height = SIZE
    grid = np.mgrid[0:height, 0:width]
    texture = np.random.default_rng(0).integers(-10, 10, (height, 2 * width, 3))
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=FPS, options=options or {})
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=44100)
            sound.layout = "stereo"
        samples = 0
        for i in range(seconds * FPS):
            frame = av.VideoFrame.from_ndarray(frame_image(i, texture, grid), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            while sound is not None and samples < (i + 1) * 44100 // FPS:
                tone = (0.1 * np.sin(np.arange(samples, samples + 1024) / 20.0)).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = 44100, samples, Fraction(1, 44100)
                for packet in sound.encode(chunk):
                    container.mux(packet)
                samples += 1024
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            for packet in sound.encode():
                container.mux(packet)


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:
        return False


CORPUS = {  # label -> (file name, write_test_video arguments)
    "H.264 + AAC audio mp4": ("audio.mp4", dict(audio=True)),
    "VP9 webm": ("vp9.webm", dict(codec="libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"})),
    "MPEG-4 part 2 avi": ("xvid.avi", dict(codec="mpeg4")),
    "MJPEG avi": ("mjpeg.avi", dict(codec="mjpeg", pix_fmt="yuvj420p")),
    "HEVC 10-bit mp4": ("hevc10.mp4", dict(codec="libx265", pix_fmt="yuv420p10le",
                                          options={"x265-params": "log-level=none"})),
    "Theora ogv": ("theora.ogv", dict(codec="libtheora")),
}


def keyframe_positions(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        flags = [p.is_keyframe for p in container.demux(stream) if p.size]
    return [i for i, key in enumerate(flags) if key]


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)


def ours(path: Path, indices: list[int]) -> np.ndarray:
    return decode_video(path, len(indices))[0].numpy()


def hf_load_video(path: Path, indices: list[int]) -> np.ndarray:
    from transformers.video_utils import load_video

    video, _ = load_video(str(path), backend="pyav", sample_indices_fn=lambda metadata, **_: np.array(indices))
    return np.asarray(video)


def pyav_seek(path: Path, indices: list[int]) -> np.ndarray:
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        start = stream.start_time or 0
        step = 1 / (stream.average_rate * stream.time_base)  # frame duration in time_base units
        for index in indices:
            target = start + int(round(index * step))
            container.seek(target, stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts >= target:
                    out.append(frame.to_ndarray(format="rgb24"))
                    break
    return np.stack(out)


def pyav_decode_all(path: Path, indices: list[int]) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return np.stack([frames[i] for i in indices])


def decord_batch(path: Path, indices: list[int]) -> np.ndarray:
    reader = decord.VideoReader(str(path))
    return reader.get_batch(indices).asnumpy()


def time_methods(label: str, path: Path, methods: dict, frames: int, repeats: int) -> list[tuple]:
    indices = segment_frame_indices(frame_count(path), frames)[0].tolist()
    print(f"{label}: keyframes at {keyframe_positions(path)[:12]}; sampled frames {indices}")
    runnable, results = {}, {}
    for name, fn in methods.items():  # warm-up; a method that cannot read the file is left out (and said)
        try:
            results[name] = fn(path, indices)
            runnable[name] = fn
        except Exception as error:  # noqa: BLE001 - a comparison library failing is a result, not a crash
            print(f"  {name} could not read {path.name}: {type(error).__name__}: {str(error)[:120]}")
    times = {name: [] for name in runnable}
    cpu = {name: [] for name in runnable}
    for _ in range(repeats):
        for name, fn in runnable.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(path, indices)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    medians = {name: statistics.median(t) for name, t in times.items()}
    baseline = results.get("pyav_decode_all")
    rows = []
    for name in runnable:
        diff = "-"
        if baseline is not None and results[name].shape == baseline.shape:
            diff = str(int(np.abs(results[name].astype(int) - baseline.astype(int)).max()))
        rows.append((label, name, f"{medians[name] * 1e3:.1f}", f"{statistics.median(cpu[name]) * 1e3:.1f}",
                     f"{medians[name] / medians['decord']:.2f}" if "decord" in medians else "-",
                     f"{medians[name] / medians['hf_load_video']:.2f}" if "hf_load_video" in medians else "-",
                     diff))
    return rows


class _DecodeDataset(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path], frames: int):
        self.paths, self.frames = paths, frames

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return decode_video(self.paths[index], self.frames)[0]


def worker_scaling(path: Path, frames: int, num_videos: int, tmp: Path) -> list[tuple]:
    """Clips per second through a DataLoader (batch 4) with 0, 1, 2 (and all) workers; distinct file copies so
    the page cache, not a shared decoder state, is all they share."""
    copies = []
    for i in range(min(num_videos, 8)):
        copy = tmp / f"scaling_{i}.mp4"
        shutil.copyfile(path, copy)
        copies.append(copy)
    paths = [copies[i % len(copies)] for i in range(num_videos)]
    from hfvideoclip.models.video_clip import video_decoding as decoding

    counts = ["0 (1 decoder thread)", 0, 1, 2] + ([usable_cores()] if usable_cores() > 2 else [])
    rates = {}
    for workers in counts:
        configure = decoding._configure_threads
        if isinstance(workers, str):  # the main process decoding as a worker does: one thread
            decoding._configure_threads = lambda stream, runs: decoding._one_thread(stream)
        try:
            count = 0 if isinstance(workers, str) else workers
            # Persistent workers, one untimed pass: the steady state of a long run, without the workers' start-up.
            loader = DataLoader(_DecodeDataset(paths, frames), batch_size=4, num_workers=count,
                                persistent_workers=count > 0)
            sum(batch.shape[0] for batch in loader)
            best = float("inf")
            for _ in range(2):
                start = time.perf_counter()
                clips = sum(batch.shape[0] for batch in loader)
                best = min(best, time.perf_counter() - start)
            del loader
        finally:
            decoding._configure_threads = configure
        rates[workers] = clips / best
    single = rates[counts[0]]
    return [(str(w), f"{rates[w]:.1f}", f"{rates[w] / rates[0]:.2f}", f"{rates[w] / single:.2f}") for w in counts]


def print_table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--scaling_videos", type=int, default=48)
    args = parser.parse_args()

    methods = {"decode_video": ours, "hf_load_video": hf_load_video, "pyav_decode_all": pyav_decode_all}
    if decord is not None:
        methods["decord"] = decord_batch
    else:
        print("decord is not importable: no decord column (pip install decord to compare).")

    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long_files = {"H.264 10 s, keyframe every 1 s": tmp / "gop30.mp4",
                      "H.264 10 s, keyframe every 10 s": tmp / "gop300.mp4"}
        write_test_video(long_files["H.264 10 s, keyframe every 1 s"], gop=30)
        write_test_video(long_files["H.264 10 s, keyframe every 10 s"], gop=300)
        for label, path in long_files.items():
            rows += time_methods(label, path, {**methods, "pyav_seek": pyav_seek}, args.frames, args.repeats)
        for label, (name, options) in CORPUS.items():
            codec = options.get("codec", "libx264")
            if not has_encoder(codec):
                print(f"{label}: this FFmpeg has no {codec} encoder; left out")
                continue
            write_test_video(tmp / name, seconds=3, **options)
            rows += time_methods(label, tmp / name, methods, args.frames, args.repeats)
        scaling = worker_scaling(long_files["H.264 10 s, keyframe every 1 s"], args.frames, args.scaling_videos,
                                 tmp)

    print_table(("file", "method", "median ms", "cpu ms", "x decord", "x hf_load_video", "max |diff|"), rows)
    print(f"\n(median of {args.repeats} interleaved repeats of one {args.frames}-frame clip; ratios of wall time, "
          f"< 1 is faster; cpu ms = CPU time of all threads of this process; load average before the run: "
          f"{load[0]:.2f})")
    print_table(("workers", "clips/s", "x 0 workers", "x 1 thread"), scaling)
    print(f"\n({args.scaling_videos} clips of {args.frames} frames from the 1-s-GOP file, batch 4, persistent workers, "
          f"best of two passes after a warm-up pass; {usable_cores()} usable cores)")


if __name__ == "__main__":
    main()
