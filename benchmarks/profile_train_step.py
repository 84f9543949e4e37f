"""Where a `VideoClipTrainer` step spends its time beyond the towers, with the PyTorch profiler.

    python benchmarks/profile_train_step.py [--methods ce,froster,taco,open_mede] [--steps 6] [--device cuda]
        [--bf16] [--batch 8]

A tiny random CLIP (the towers are cheap, so overheads stand out), pre-made input tensors (no decoding). Per method
it prints, per optimizer step: the host reads of tensor values made from Python (`.item()`, `float(t)`, `bool(t)`,
`int(t)`, `.tolist()`, `.numpy()`: on a GPU each one waits for the queue to drain), counted with a
`TorchFunctionMode` and attributed to the calling line; the share of CPU time inside the transformer blocks; and
the top operators by self CPU time. On a GPU, also the share of CUDA time in the blocks. (The profiler's
`aten::_local_scalar_dense` count is not used: on the CPU it also counts reads inside kernels, e.g. the fused
AdamW's step counter per parameter, which cost nothing on a GPU.)
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

_HOST_READS = {torch.Tensor.item, torch.Tensor.__float__, torch.Tensor.__bool__, torch.Tensor.__int__,
               torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.__index__}


class HostReads(torch.overrides.TorchFunctionMode):
    """Counts Python-level reads of tensor values, keyed by the first calling line outside torch."""

    def __init__(self):
        super().__init__()
        self.sites: collections.Counter = collections.Counter()
        self.active = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.active and func in _HOST_READS:
            import traceback

            frames = [f for f in traceback.extract_stack()[:-1] if "/torch/" not in f.filename]
            site = frames[-1] if frames else None
            self.sites[f"{Path(site.filename).name}:{site.lineno} {func.__name__}" if site else func.__name__] += 1
        return func(*args, **(kwargs or {}))


def profile(workdir: str, method: str, steps: int, device: str, bf16: bool, batch: int) -> dict:
    from datasets import ClassLabel, Dataset, Features, Value
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as torch_profile
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
    prof = torch_profile(activities=activities)
    reads = HostReads()

    class Window(TrainerCallback):
        """Profile optimizer steps 3 .. steps + 2 (the first two warm up)."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                prof.start()
                reads.active = True
            elif state.global_step == steps + 2:
                reads.active = False
                prof.stop()

    trainer.add_callback(Window())
    with reads:
        trainer.train()
    events = prof.key_averages()
    by_name = {e.key: e for e in events}
    total_cpu = sum(e.self_cpu_time_total for e in events)
    block = by_name.get("transformer_block")
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:6]
    result = {"method": method, "reads_per_step": sum(reads.sites.values()) / steps,
              "read_sites": reads.sites.most_common(4),
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
    print(f"{'method':<11} {'host reads/step':>15} {'CPU in blocks':>13}  top self-CPU operators")
    for method, r in counts.items():
        top = ", ".join(f"{name} {share:.0%}" for name, share in r["top"][:3])
        print(f"{method:<11} {r['reads_per_step']:>15.1f} {r['block_cpu_share']:>13.0%}  {top}")
    for method, r in counts.items():
        if r["read_sites"]:
            print(f"  {method} reads at: " + "; ".join(f"{site} x{n / args.steps:g}" for site, n in r["read_sites"]))


if __name__ == "__main__":
    main()
