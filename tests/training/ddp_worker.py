"""Run by test_distributed.py under `accelerate launch` with 2 processes on CPU (DDP or FSDP).

argv: clip_dir videos_json output_dir method [overrides_json]. Each rank writes its final weights (whole tensors,
gathered from FSDP shards), the log history and how its parameters were held; the main process exports the model
to `<output_dir>/export`.
"""

import json
import sys

import torch
from datasets import ClassLabel, Dataset, Features, Value

import hfvideoclip  # noqa: F401
from hfvideoclip.methods import get_method
from hfvideoclip.training.arguments import VideoClipTrainingArguments
from hfvideoclip.training.builder import build_trainer


def main() -> None:
    clip_dir, videos_json, output_dir, method = sys.argv[1:5]
    overrides = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    rows = json.loads(open(videos_json).read())
    features = Features({"video": Value("string"), "label": ClassLabel(names=rows["classes"])})
    dataset = Dataset.from_dict({"video": rows["video"], "label": rows["label"]}, features=features)
    config_class = get_method(method).config_class
    own = set(config_class.__dataclass_fields__)
    values = dict(output_dir=output_dir, method=method, num_frames=4, templates="single", max_steps=3,
                  per_device_train_batch_size=2, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                  report_to="none", seed=7, disable_tqdm=True)
    values.update({k: v for k, v in overrides.items() if k not in own})
    method_values = {"ema_momentum": 0.9} if method == "taco" else {}
    method_values.update({k: v for k, v in overrides.items() if k in own})
    args = VideoClipTrainingArguments(**values)
    trainer = build_trainer(args, clip_dir, dataset, method_config=config_class(**method_values))
    trainer.train()
    rank = trainer.args.process_index
    params = list(trainer.model.parameters())
    sharded = [p for p in params if hasattr(p, "full_tensor")]
    held = {"distributed_type": str(trainer.accelerator.distributed_type), "parameters": len(params),
            "sharded": len(sharded), "local_numel": sum(p.to_local().numel() for p in sharded),
            "full_numel": sum(p.numel() for p in sharded)}
    state = {k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().cpu()
             for k, v in trainer.model.state_dict().items()}
    torch.save(state, f"{output_dir}/rank{rank}.pt")
    trainer.save_model(f"{output_dir}/export")
    with open(f"{output_dir}/rank{rank}_log.json", "w") as handle:
        json.dump({"world_size": trainer.args.world_size, "log": trainer.state.log_history, "held": held}, handle)


if __name__ == "__main__":
    main()
