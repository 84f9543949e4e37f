"""Where a `VideoClipTrainer` step spends its time beyond the towers, with the PyTorch profiler.

    python benchmarks/profile_train_step.py [--methods ce,froster,taco,open_mede] [--steps 6] [--device cuda]
        [--bf16] [--batch 8]

A tiny random CLIP (the towers are cheap, so overheads stand out), pre-made input tensors (no decoding). Per method
it prints, per optimizer step: host-device synchronisations (`aten::_local_scalar_dense`, what `.item()`,
`float(tensor)` and `if tensor:` cost; each one drains a GPU's queue), host-to-device copies (`aten::copy_` /
`aten::to` calls), the share of CPU time inside the vision and text transformer blocks, and the top operators by
self CPU time. On a GPU, also the share of CUDA time in the blocks.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import build_clip  # noqa: E402


def profile(workdir: str, method: str, steps: int, device: str, bf16: bool, batch: int) -> dict:
    from datasets import ClassLabel, Dataset, Features, Value
    from torch.profiler import ProfilerActivity, profile as torch_profile, record_function
    from transformers import TrainerCallback
    from transformers.modeling_layers import GradientCheckpointingLayer

    from hfvideoclip.methods import get_method
    from hfvideoclip.training.arguments import VideoClipTrainingArguments
    from hfvideoclip.training.builder import build_trainer

    classes = ["class zero", "class one", "class two", "class three"]
    dataset = Dataset.from_dict({"video": ["unused"] * 4 * batch, "label": [i % 4 for i in range(4 * batch)]},
                                features=Features({"video": Value("string"), "label": ClassLabel(names=classes)}))
    pixels = torch.randn(batch, 8, 3, 32, 32)

    def collate(rows):
        return {"pixel_values_videos": pixels[: len(rows)], "labels": torch.tensor([r["label"] for r in rows])}

    args = VideoClipTrainingArguments(
        output_dir=tempfile.mkdtemp(), method=method, num_frames=8, templates="single", max_steps=steps + 2,
        per_device_train_batch_size=batch, learning_rate=1e-5, save_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=device == "cpu", bf16=bf16, logging_steps=max(1, steps // 2), augment=False,
        dataloader_num_workers=0, adaptation="frozen_text" if method == "open_vclip" else "full")
    config_class = get_method(method).config_class
    config = config_class(meta_tasks=2) if method == "open_mede" else config_class()
    trainer = build_trainer(args, workdir, dataset, method_config=config)
    trainer.data_collator = collate

    # Label every transformer block's forward so the profile can split block time from the rest.
    def around_block(module, inputs):
        module._profile_range = record_function("transformer_block")
        module._profile_range.__enter__()

    def after_block(module, inputs, output):
        module._profile_range.__exit__(None, None, None)

    for module in trainer.model.modules():
        if isinstance(module, GradientCheckpointingLayer):
            module.register_forward_pre_hook(around_block)
            module.register_forward_hook(after_block)

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    prof = torch_profile(activities=activities, schedule=torch.profiler.schedule(wait=0, warmup=2, active=steps))

    class Step(TrainerCallback):
        def on_step_end(self, *a, **k):
            prof.step()

    trainer.add_callback(Step())
    with prof:
        trainer.train()
    events = prof.key_averages()
    by_name = {e.key: e for e in events}
    total_cpu = sum(e.self_cpu_time_total for e in events)
    block = by_name.get("transformer_block")
    syncs = by_name["aten::_local_scalar_dense"].count if "aten::_local_scalar_dense" in by_name else 0
    copies = sum(by_name[k].count for k in ("aten::copy_",) if k in by_name)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:6]
    result = {"method": method, "syncs_per_step": syncs / steps, "copies_per_step": copies / steps,
              "block_cpu_share": (block.cpu_time_total / total_cpu) if block and total_cpu else 0.0,
              "top": [(e.key, e.self_cpu_time_total / total_cpu) for e in top]}
    if device.startswith("cuda"):
        total_cuda = sum(getattr(e, "self_device_time_total", 0) for e in events)
        result["block_cuda_share"] = (getattr(block, "device_time_total", 0) / total_cuda) if total_cuda else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", default="ce,froster,taco,open_mede,open_vclip")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp()
    build_clip(workdir, small=True)
    counts = collections.OrderedDict()
    for method in args.methods.split(","):
        counts[method] = profile(workdir, method, args.steps, args.device, args.bf16, args.batch)
    print(f"{args.device}, {'bf16' if args.bf16 else 'fp32'}, tiny CLIP, batch {args.batch} x 8 frames, "
          f"{args.steps} profiled steps")
    print(f"{'method':<11} {'syncs/step':>10} {'copies/step':>11} {'CPU in blocks':>13}  top self-CPU operators")
    for method, r in counts.items():
        top = ", ".join(f"{name} {share:.0%}" for name, share in r["top"][:4])
        print(f"{method:<11} {r['syncs_per_step']:>10.1f} {r['copies_per_step']:>11.1f} {r['block_cpu_share']:>13.0%}"
              f"  {top}")


if __name__ == "__main__":
    main()
