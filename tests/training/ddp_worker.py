"""Run by test_distributed.py under `accelerate launch --multi_gpu --num_processes 2` on CPU.

argv: clip_dir videos_json output_dir method. Each rank writes its final student weights and the log history.
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
    rows = json.loads(open(videos_json).read())
    features = Features({"video": Value("string"), "label": ClassLabel(names=rows["classes"])})
    dataset = Dataset.from_dict({"video": rows["video"], "label": rows["label"]}, features=features)
    args = VideoClipTrainingArguments(output_dir=output_dir, method=method, num_frames=4, templates="single",
                                      max_steps=3, per_device_train_batch_size=2, learning_rate=1e-3,
                                      logging_steps=1, save_strategy="no", report_to="none", seed=7,
                                      disable_tqdm=True)
    config = get_method(method).config_class(**({"ema_momentum": 0.9} if method == "taco" else {}))
    trainer = build_trainer(args, clip_dir, dataset, method_config=config)
    trainer.train()
    rank = trainer.args.process_index
    state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    torch.save(state, f"{output_dir}/rank{rank}.pt")
    with open(f"{output_dir}/rank{rank}_log.json", "w") as handle:
        json.dump({"world_size": trainer.args.world_size, "log": trainer.state.log_history}, handle)


if __name__ == "__main__":
    main()
