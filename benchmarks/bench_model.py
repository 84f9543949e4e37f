"""Forward time of VideoClipModel against bare CLIPModel.get_image_features over the same frames.

ViT-B/16-shaped random weights (identical in both), 8 frames of 224 px, batch 1; fp32 and bf16. Prints ratios
measured in this run (target: mean-mode ratio <= 1.05). Also times the end-to-end pipeline (decode + preprocess
+ model) on a generated 10-s mp4 relative to the bare model forward (target <= 1.2x).

    python benchmarks/bench_model.py [--repeats 5] [--frames 8] [--device cuda] [--batch 32] [--dtypes bfloat16]
        [--compile]

`--compile`: the CLIP tower is `torch.compile`d whole and our model with `VideoClipModel.compile_towers` (each
transformer block). Every row also prints the achieved TFLOP/s of the bare tower's FLOPs (`torch.utils.flop_counter`).

Targets: `mean` <= 1.05x the bare CLIP tower; `vclip` <= 1.15x `mean` (three frames' keys add ~8 % FLOPs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from functools import partial

import torch
from transformers import CLIPConfig, CLIPModel


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved(baseline, candidate, repeats: int) -> tuple[float, float]:
    """Median times of two callables measured alternately, so that machine load drifts hit both alike."""
    baseline(), candidate()  # warm-up
    first, second = [], []
    for _ in range(repeats):
        for fn, samples in ((baseline, first), (candidate, second)):
            _sync()
            start = time.perf_counter()
            fn()
            _sync()
            samples.append(time.perf_counter() - start)
    return statistics.median(first), statistics.median(second)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def vision_flops(vision_config, images: int) -> float:
    """Forward FLOPs of CLIP's vision tower on `images` frames (counted on the meta device: no memory, no time)."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPVisionModel

    with torch.device("meta"):
        tower = CLIPVisionModel(vision_config)
    counter = FlopCounterMode(display=False)
    size = vision_config.image_size
    with counter, torch.no_grad():
        tower(pixel_values=torch.empty(images, 3, size, size, device="meta"))
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--skip_pipeline", action="store_true")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated torch dtypes")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--batch", type=int, default=1, help="videos per forward")
    parser.add_argument("--compile", action="store_true", help="torch.compile both (see above)")
    args = parser.parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    import hfvideoclip  # noqa: F401
    from hfvideoclip import VideoClipModel

    config = CLIPConfig(text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                                         num_attention_heads=8),
                        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                           num_attention_heads=12, image_size=224, patch_size=16),
                        projection_dim=512)
    clip = CLIPModel(config).eval()
    workdir = tempfile.mkdtemp()
    clip.save_pretrained(workdir)
    clip = clip.to(device)
    video = torch.randn(args.batch, args.frames, 3, 224, 224, device=device)
    flops = vision_flops(config.vision_config, args.batch * args.frames)
    rows = []
    for dtype in [getattr(torch, name) for name in args.dtypes.split(",")]:
        base = clip.to(dtype)
        if args.compile:
            base.vision_model.compile()
        frames = video.flatten(0, 1).to(dtype)
        clip_forward = partial(base.get_image_features, pixel_values=frames)
        for mode in ("mean", "vclip", "viclip"):
            model = VideoClipModel.from_clip(workdir, temporal_mode=mode, num_frames=args.frames).eval().to(device,
                                                                                                          dtype)
            if args.compile:
                model.compile_towers()
            ours = partial(model.get_video_features, pixel_values_videos=video.to(dtype))
            with torch.inference_mode():
                t_clip, t = interleaved(clip_forward, ours, args.repeats)
            if mode == "mean":
                rows.append((f"bare CLIP tower ({dtype})", t_clip, 1.0))
            rows.append((f"VideoClipModel {mode} ({dtype}) vs CLIP", t, t / t_clip))
            if mode == "mean":
                t_mean = t
            else:
                rows.append((f"  {mode} vs mean ({dtype})", t, t / t_mean))
        clip = clip.float()
    print(f"{device}, batch {args.batch} x {args.frames} frames, {'compiled' if args.compile else 'eager'}")
    print(f"{'what':<52} {'seconds':>8} {'ratio':>7} {'videos/s':>9} {'TFLOP/s':>8}")
    for name, seconds, ratio in rows:
        print(f"{name:<52} {seconds:>8.3f} {ratio:>7.2f} {args.batch / seconds:>9.1f} {flops / seconds / 1e12:>8.2f}")
    if not args.skip_pipeline and device == "cpu":
        pipeline_ratio(workdir, args)


def pipeline_ratio(workdir: str, args) -> None:
    """End-to-end pipeline (decode + preprocess + model) vs the bare model forward on the same model."""
    import numpy as np
    from transformers import CLIPTokenizer, pipeline

    from hfvideoclip import VideoClipModel, VideoClipProcessor, VideoClipVideoProcessor
    from hfvideoclip.data.toy.encode import write_mp4

    model = VideoClipModel.from_clip(workdir, temporal_mode="mean", num_frames=args.frames).eval()
    model_dir = tempfile.mkdtemp()
    model.save_pretrained(model_dir)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "video</w>": 3, "of</w>": 4, "x</w>": 5,
             "y</w>": 6, ".</w>": 7}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=args.frames, size=224)).save_pretrained(model_dir)
    rng = np.random.default_rng(0)
    frames = (rng.random((300, 240, 320, 3)) * 255).astype(np.uint8)
    frames[:] = frames[:1]  # a static textured video: realistic H.264 decode cost without a huge file
    path = f"{model_dir}/video.mp4"
    write_mp4(frames, path, fps=30)
    clf = pipeline("zero-shot-video-classification", model=model_dir)
    clf(path, candidate_labels=["x", "y"], hypothesis_template="a video of {}.")  # warm-up + label cache
    video = torch.randn(1, args.frames, 3, 224, 224)
    with torch.inference_mode():
        t_model, t_pipe = interleaved(partial(model.get_video_features, pixel_values_videos=video),
                                      partial(clf, path, candidate_labels=["x", "y"],
                                              hypothesis_template="a video of {}."), args.repeats)
    print(f"{'pipeline end-to-end (decode+preprocess+model)':<52} {t_pipe:>8.3f} {t_pipe / t_model:>7.2f}"
          "  (ratio vs bare VideoClipModel mean forward)")


if __name__ == "__main__":
    main()
