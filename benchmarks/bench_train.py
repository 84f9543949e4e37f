"""Training throughput of each method relative to `ce` in the same run, and peak memory with and without
gradient checkpointing. ViT-B/16-shaped random CLIP, 8 frames at 224 px, the real VideoClipTrainer code path
(inputs are pre-made tensors, so decoding does not enter the timing).

    python benchmarks/bench_train.py [--steps 3] [--rounds 1] [--small] [--device cuda] [--bf16] [--batch 32]
        [--compile] [--methods ce,froster,ost,msta:msta,ce:lora]   (method[:adaptation])

The anchor ("tower") is a bare `CLIPVisionModel` training step on the same frames in the same run: forward,
backward and an AdamW step (fused where the device has it) under the same autocast, compiled whole with
`--compile`; every row prints its videos/s relative to it and the achieved TFLOP/s (model FLOPs from
`torch.utils.flop_counter` on the tower forward x 3 for forward + backward). `--compile` trains with
`--torch_compile` (regional: each transformer block compiled, VideoClipTrainer._compile_towers).

`--small`: a tiny model for a quick check. `--device cuda --bf16`: the GPU under bf16 autocast (batch default 32 on
a GPU, 2 on the CPU). Every method sees the same batch of videos per optimizer step (Open-MeDe splits it into
tasks of support + query), so videos/s compare directly. Targets: froster <= 1.4x, taco <= 1.33x, open_mede <= 1.2x
of ce per video. Each configuration runs in its own process so that its peak memory (RSS, or CUDA max allocated)
is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def build_clip(workdir: str, small: bool) -> None:
    import torch
    from transformers import CLIPConfig, CLIPModel

    from hfvideoclip import VideoClipProcessor, VideoClipVideoProcessor
    from hfvideoclip.toy.tokenizer import build_tokenizer

    torch.manual_seed(0)
    tokenizer = build_tokenizer(["a", "video", "of", "class", "zero", "one", "two", "three", "."])
    if small:
        vision = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                      image_size=32, patch_size=8)
        text = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4)
        projection = 64
    else:
        vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                      image_size=224, patch_size=16)
        text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8)
        projection = 512
    text.update(vocab_size=len(tokenizer), max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)).save_pretrained(workdir)
    VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=8, size=vision["image_size"])).save_pretrained(
        workdir)


def _msta_dim(hidden: int) -> int:
    """MSTA's bottleneck 256 (ViT-B: 768 = 3 x 256), else a quarter of the width (the temporal conv needs a divisor)."""
    return 256 if hidden % 256 == 0 else max(1, hidden // 4)


def tower_flops_per_video(workdir: str) -> float:
    """Training FLOPs of the bare vision tower per 8-frame video: 3 x the forward's (backward ~ 2 x forward)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPConfig, CLIPVisionModel

    vision_config = CLIPConfig.from_pretrained(workdir).vision_config
    size = vision_config.image_size
    with torch.device("meta"):
        meta = CLIPVisionModel(vision_config)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta(pixel_values=torch.empty(8, 3, size, size, device="meta"))
    return 3.0 * counter.get_total_flops()


def run_tower(workdir: str, steps: int, device: str, bf16: bool, batch: int, compile_: bool) -> dict:
    """The anchor: a bare CLIP vision tower training step (forward + backward + AdamW) on batch x 8 frames."""
    import torch
    from transformers import CLIPVisionModel
    from transformers.utils import logging

    logging.set_verbosity_error()  # the text tower's weights are "unexpected" in a vision-only load
    torch.manual_seed(0)
    tower = CLIPVisionModel.from_pretrained(workdir).to(device).train()
    size = tower.config.image_size
    pixels = torch.randn(batch * 8, 3, size, size, device=device)
    cuda = device.startswith("cuda")
    optimizer = torch.optim.AdamW(tower.parameters(), lr=1e-5, fused=cuda)
    forward = torch.compile(tower) if compile_ else tower
    times = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(steps + 1):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = forward(pixel_values=pixels).pooler_output.float().pow(2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if cuda
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    step = statistics.median(times[1:])
    return {"method": "tower", "backbone": "-", "checkpointing": False, "step_s": step, "videos_per_s": batch / step,
            "peak_mb": peak_mb}


def run_one(workdir: str, method: str, steps: int, checkpointing: bool, temporal_mode: str | None, device: str,
            bf16: bool, batch: int, compile_: bool = False) -> dict:
    import torch
    from datasets import ClassLabel, Dataset, Features, Value
    from transformers import TrainerCallback

    from hfvideoclip.methods import get_method
    from hfvideoclip.training.arguments import VideoClipTrainingArguments
    from hfvideoclip.training.builder import build_trainer

    torch.manual_seed(0)
    method, _, adaptation = method.partition(":")  # "msta:msta", "ce:lora": a method with another adaptation
    adaptation = adaptation or ("frozen_text" if method == "open_vclip" else "full")
    classes = ["class zero", "class one", "class two", "class three"]
    dataset = Dataset.from_dict({"video": ["unused"] * 4 * batch, "label": [i % 4 for i in range(4 * batch)]},
                                features=Features({"video": Value("string"), "label": ClassLabel(names=classes)}))
    size = json.load(open(f"{workdir}/config.json"))["vision_config"]["image_size"]
    # In the collator's dtype: VideoClipCollator collates bf16 pixels under --bf16 (the trainer sets pixel_dtype).
    pixels = torch.randn(batch, 8, 3, size, size).to(torch.bfloat16 if bf16 else torch.float32)

    def collate(rows):
        return {"pixel_values_videos": pixels[: len(rows)], "labels": torch.tensor([r["label"] for r in rows])}

    args = VideoClipTrainingArguments(
        output_dir=tempfile.mkdtemp(), method=method, num_frames=8, templates="single", max_steps=steps + 1,
        per_device_train_batch_size=batch, learning_rate=1e-5, save_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=device == "cpu", bf16=bf16, logging_steps=1000, augment=False,
        adaptation=adaptation, activation_checkpointing=checkpointing, temporal_mode=temporal_mode,
        torch_compile=compile_,
        msta_dim=_msta_dim(json.load(open(f"{workdir}/config.json"))["vision_config"]["hidden_size"]))
    config_class = get_method(method).config_class
    config = config_class(meta_tasks=max(1, min(4, batch // 2))) if method == "open_mede" else config_class()
    trainer = build_trainer(args, workdir, dataset, method_config=config)
    trainer.data_collator = collate
    times: list[float] = []
    cuda = device.startswith("cuda")

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            if cuda:
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.start)

    trainer.add_callback(Clock())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    if cuda:
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step = statistics.median(times[1:])
    return {"method": method if adaptation in ("full", "frozen_text") else f"{method}:{adaptation}", "backbone": trainer.model.student.config.temporal_mode, "checkpointing": checkpointing,
            "step_s": step, "videos_per_s": batch / step, "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this many times, interleaved; the median is reported")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--methods", default="ce,froster,open_vclip,taco,open_mede")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (the Trainer's --bf16)")
    parser.add_argument("--batch", type=int, default=None, help="videos per step (default: 32 on cuda, 2 on cpu)")
    parser.add_argument("--compile", action="store_true",
                        help="--torch_compile for the methods, torch.compile for the tower anchor")
    parser.add_argument("--no_checkpointing_rows", action="store_true",
                        help="skip the activation-checkpointing rows (ce, froster)")
    parser.add_argument("--_child", nargs=9, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        workdir, method, steps, checkpointing, mode, device, bf16, batch, compile_ = args._child
        if method == "tower":
            result = run_tower(workdir, int(steps), device, bf16 == "1", int(batch), compile_ == "1")
        else:
            result = run_one(workdir, method, int(steps), checkpointing == "1", None if mode == "-" else mode,
                             device, bf16 == "1", int(batch), compile_ == "1")
        print(json.dumps(result))
        return
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    batch = args.batch or (32 if device.startswith("cuda") else 2)
    workdir = tempfile.mkdtemp()
    build_clip(workdir, args.small)
    # (method, backbone override, checkpointing). The presets put froster/open_vclip/open_mede on the vclip
    # backbone and ce/taco on frame-mean, so "ce on vclip" is also timed: the method's own overhead is its ratio
    # to ce on the same backbone.
    methods = args.methods.split(",")
    if "ce" not in methods:  # ce on the frame-mean backbone is every row's reference
        methods.insert(0, "ce")
    configs = [("tower", "-", "0")] + [(m, "-", "0") for m in methods] + [("ce", "vclip", "0")]
    if not args.no_checkpointing_rows:
        configs += [("ce", "-", "1"), ("froster", "-", "1")]
    flops_per_video = tower_flops_per_video(workdir)
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        for config in configs:
            method, mode, checkpointing = config
            out = subprocess.run([sys.executable, __file__, "--_child", workdir, method, str(args.steps), checkpointing,
                                  mode, device, "1" if args.bf16 else "0", str(batch),
                                  "1" if args.compile else "0"],
                                 capture_output=True, text=True)
            if out.returncode != 0:  # one failing configuration (out of memory, say) must not lose the others
                print(f"FAILED {config}: {out.stderr.strip().splitlines()[-1:] or ['(no output)']}", flush=True)
                continue
            runs[config].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"done {config}: {json.dumps(runs[config][-1])}", flush=True)  # kept if a time limit stops the run
    results = [{**rs[0], "step_s": statistics.median(r["step_s"] for r in rs),
                "videos_per_s": statistics.median(r["videos_per_s"] for r in rs),
                "peak_mb": statistics.median(r["peak_mb"] for r in rs)} for rs in runs.values() if rs]
    if not any(r["method"] == "tower" for r in results) or not any(
            r["method"] == "ce" and r["backbone"] == "mean" and not r["checkpointing"] for r in results):
        raise SystemExit("the tower or ce (mean) failed: no ratios to print (see FAILED above)")

    ce_runs = {(r["backbone"], r["checkpointing"]): r for r in results if r["method"] == "ce"}
    base = ce_runs[("mean", False)]
    tower = next(r for r in results if r["method"] == "tower")
    print(f"{device}, {'bf16 autocast' if args.bf16 else 'fp32'}, batch {batch} videos x 8 frames, "
          f"{'compiled' if args.compile else 'eager'}; tower training FLOPs {flops_per_video / 1e9:.1f} G/video")
    print(f"{'method':<11} {'backbone':>8} {'ckpt':>5} {'s/step':>7} {'videos/s':>8} {'TFLOP/s':>7} {'/tower':>6} "
          f"{'/ce mean':>8} {'/ce same':>8} {'peak MB':>8} {'mem/ce':>7}")
    for r in results:
        same = ce_runs.get((r["backbone"], r["checkpointing"]))
        same_ratio = f"{r['step_s'] / same['step_s']:>8.2f}" if same else f"{'-':>8}"
        print(f"{r['method']:<11} {r['backbone']:>8} {str(r['checkpointing']):>5} {r['step_s']:>7.3f} "
              f"{r['videos_per_s']:>8.1f} {r['videos_per_s'] * flops_per_video / 1e12:>7.2f} "
              f"{r['videos_per_s'] / tower['videos_per_s']:>6.2f} {r['step_s'] / base['step_s']:>8.2f} {same_ratio} "
              f"{r['peak_mb']:>8.0f} {r['peak_mb'] / base['peak_mb']:>7.2f}")
    print("/tower: videos/s relative to the bare vision tower's training step (the anchor); TFLOP/s counts the "
          "tower's FLOPs only (what the video pays for), so a method's extra work shows as a lower figure. /ce mean: "
          "time per video relative to ce on the frame-mean backbone; /ce same: relative to ce on the same backbone "
          "with the same checkpointing setting (the method's own overhead). Every method takes the same videos per "
          "step.")


if __name__ == "__main__":
    main()
