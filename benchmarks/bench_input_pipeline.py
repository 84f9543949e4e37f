"""Clips per second through the training input pipeline, and where the time goes.

The training path of `VideoClipCollator` (decode the sampled frames, temporal jitter, random resized crop, flip,
grayscale, normalise, collate) on three kinds of videos: the toy world's H.264 mp4s (`toy-b2n` training set) and the
miniatures of UCF-101 (avi) and Something-Something v2 (webm) from `hfvideoclip.data.datasets.make_miniature`,
each copied up to `--videos` rows. For each: clips/s through a `DataLoader` with 0, 1 and 2 workers (batch 8, best
of two passes) and the share of one clip's time spent decoding (`decode_video` alone, in-process) against the rest
(sampling, augmentation, normalisation, collation).

    python benchmarks/bench_input_pipeline.py [--videos 64] [--frames 8] [--size 224]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from hfvideoclip.data.collator import VideoClipCollator
from hfvideoclip.models.video_clip.processing_video_clip import VideoClipVideoProcessor
from hfvideoclip.models.video_clip.video_decoding import decode_video


def toy_rows(count: int) -> list[dict]:
    from hfvideoclip.data import load_protocol

    train = load_protocol("toy-b2n").splits[0].train
    rows = [{"video": v, "label": int(label)} for v, label in zip(train["video"], train["label"])]
    return (rows * (count // len(rows) + 1))[:count]


def miniature_rows(name: str, root: Path, count: int) -> list[dict]:
    from hfvideoclip.data.datasets import build_ssv2, build_ucf101, make_miniature

    mini = make_miniature(name, root / name)
    if name == "ucf101":
        dataset = build_ucf101(mini.root, 1, "train", cache_dir=root / "cache")
    else:
        dataset = build_ssv2(mini.root, "train", cache_dir=root / "cache")
    corrupt = {str(path) for path in getattr(mini, "corrupt", []) or []}
    rows = [{"video": v, "label": int(label)} for v, label in zip(dataset["video"], dataset["label"])
            if v not in corrupt]
    return (rows * (count // len(rows) + 1))[:count]


def clips_per_second(rows: list[dict], collator, workers: int, batch: int = 8) -> float:
    loader = DataLoader(rows, batch_size=batch, num_workers=workers, collate_fn=collator)
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        clips = sum(out["pixel_values_videos"].shape[0] for out in loader)
        best = min(best, time.perf_counter() - start)
    return clips / best


def decode_share(rows: list[dict], collator, frames: int, repeats: int = 3) -> float:
    """Median over videos of decode time / whole per-clip time, in-process."""
    shares = []
    for row in rows[: min(len(rows), 16)]:
        decode, whole = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            decode_video(row["video"], frames, train=True, generator=torch.Generator().manual_seed(0))
            decode.append(time.perf_counter() - start)
            start = time.perf_counter()
            collator([row])
            whole.append(time.perf_counter() - start)
        shares.append(min(decode) / min(whole))
    return statistics.median(shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, help="crop size (the toy world trains at 32)")
    args = parser.parse_args()
    processor = VideoClipVideoProcessor(num_frames=args.frames, size=args.size)
    collator = VideoClipCollator(processor, train=True)
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"toy-b2n mp4 (H.264)": toy_rows(args.videos),
                   "UCF-101 miniature (avi)": miniature_rows("ucf101", Path(tmp), args.videos),
                   "SSv2 miniature (webm)": miniature_rows("ssv2", Path(tmp), args.videos)}
        for label, rows in sources.items():
            rates = {w: clips_per_second(rows, collator, w) for w in (0, 1, 2)}
            share = decode_share(rows, collator, args.frames)
            table.append((label, *(f"{rates[w]:.1f}" for w in (0, 1, 2)), f"{rates[2] / rates[0]:.2f}",
                          f"{100 * share:.0f} %", f"{100 * (1 - share):.0f} %"))
    header = ("videos", "0 workers", "1", "2", "2 / 0", "decoding", "sampling + augmentation + collate")
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    print(f"\n(clips/s of {args.frames}-frame clips cropped to {args.size} px, batch 8, best of two passes; "
          f"{args.videos} rows per source)")


if __name__ == "__main__":
    main()
