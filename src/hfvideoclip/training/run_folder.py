"""A run's output folder: never mix two runs in one folder, never resume a checkpoint under other arguments.

transformers' example scripts refuse a non-empty `--output_dir` unless `--overwrite_output_dir` or
`--resume_from_checkpoint` is given; a stale `checkpoint-N` from an earlier run would otherwise be what a later
`--resume_from_checkpoint` picks up, and its weights what gets exported. The arguments of a run are in its
`train_args.json` (`RecipeArguments.to_json`), written next to its checkpoints.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

RUN_FILES = ("train_args.json", "model.safetensors", "trainer_state.json", "results.json")
"""Files that mark a folder as holding a finished or started run (with `checkpoint-*` folders)."""

# Arguments that do not change the training trajectory: where and how often things are written, logged or
# evaluated, how data is loaded, and the final evaluation. Everything else must match to resume.
_OUTSIDE_THE_TRAJECTORY = {
    "output_dir", "overwrite_output_dir", "resume_from_checkpoint", "logging_dir", "run_name", "report_to",
    "disable_tqdm", "skip_final_eval", "eval_num_clips", "eval_templates", "per_device_eval_batch_size",
    "eval_strategy", "eval_steps", "eval_delay", "eval_accumulation_steps", "eval_on_start", "cache_dir",
    "data_dir", "push_to_hub", "local_rank", "bad_video", "dataloader_num_workers", "dataloader_pin_memory",
    "dataloader_persistent_workers", "dataloader_prefetch_factor", "torch_compile", "torch_compile_backend",
    "torch_compile_mode", "torch_compile_regional", "ddp_find_unused_parameters", "ddp_timeout", "ddp_backend",
    "log_level", "log_level_replica", "save_total_limit", "save_safetensors", "save_only_model",
    "include_num_input_tokens_seen",
}
_OUTSIDE_PREFIXES = ("logging_", "save_", "hub_", "push_to_hub_")


def existing_run(output_dir: str) -> list[str]:
    """What in `output_dir` belongs to an earlier run: its `checkpoint-*` folders and run files (names)."""
    if not os.path.isdir(output_dir):
        return []
    checkpoints = sorted(os.path.basename(p) for p in glob.glob(os.path.join(output_dir, "checkpoint-*"))
                         if os.path.isdir(p))
    return checkpoints + [name for name in RUN_FILES if os.path.isfile(os.path.join(output_dir, name))]


def guard_output_dir(output_dir: str, overwrite: bool, resuming: bool) -> list[str]:
    """Refuse an `output_dir` that holds an earlier run unless the run resumes it or `overwrite` is given; with
    `overwrite`, the earlier run's `checkpoint-*` folders are removed (a later resume would pick them up).

    Returns the names of what was removed.
    """
    found = existing_run(output_dir)
    if not found or resuming:
        return []
    if not overwrite:
        raise ValueError(f"--output_dir {output_dir} already holds a run ({', '.join(found[:4])}"
                         f"{', ...' if len(found) > 4 else ''}); pass --resume_from_checkpoint to continue it, "
                         "--overwrite_output_dir to replace it, or choose another --output_dir.")
    removed = [name for name in found if name.startswith("checkpoint-")]
    for name in removed:
        shutil.rmtree(os.path.join(output_dir, name))
    return removed


def _trajectory_arguments(recorded: dict) -> dict:
    arguments = recorded.get("arguments", {})
    values = {name: entry.get("value") if isinstance(entry, dict) else entry for name, entry in arguments.items()}
    values = {name: value for name, value in values.items()
              if name not in _OUTSIDE_THE_TRAJECTORY and not name.startswith(_OUTSIDE_PREFIXES)}
    values["method"] = recorded.get("method")
    return values


def check_resume_arguments(checkpoint: str, current: dict) -> None:
    """Refuse to resume `checkpoint` when its run's `train_args.json` (in the checkpoint's parent folder) differs
    from `current` (`RecipeArguments.to_json()`) in anything that changes the trajectory; the error lists them.
    A checkpoint without a recorded run (saved by other code) is resumed as it is."""
    path = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "train_args.json")
    if not os.path.isfile(path):
        return
    with open(path) as handle:
        saved = _trajectory_arguments(json.load(handle))
    now = _trajectory_arguments(json.loads(json.dumps(current, default=str)))
    differences = [f"{name}: {saved.get(name)!r} -> {now.get(name)!r}" for name in sorted(set(saved) | set(now))
                   if saved.get(name) != now.get(name)]
    if differences:
        raise ValueError(f"--resume_from_checkpoint {checkpoint} was saved by a run with other arguments "
                         f"({'; '.join(differences[:8])}{'; ...' if len(differences) > 8 else ''}); rerun with the "
                         f"arguments in {path}, or start a new run (--overwrite_output_dir or another --output_dir).")


def whole_run_train_loss(train_loss: float, global_step: int, resumed_step: int, log_history: list[dict]) -> float:
    """The mean training loss over all `global_step` steps of a resumed run.

    The Trainer's `train_loss` averages the steps run since `resumed_step` only; the steps before come from the
    checkpoint's logged losses (each the mean of its logging interval, rounded to 4 digits by the Trainer), the
    last logged interval standing in for steps after the last log.
    """
    if resumed_step <= 0 or global_step <= resumed_step:
        return train_loss
    total, previous, last_loss = 0.0, 0, None
    for entry in log_history:
        step = entry.get("step", 0)
        if "loss" not in entry or step > resumed_step:
            continue
        total += entry["loss"] * (step - previous)
        previous, last_loss = step, entry["loss"]
    if last_loss is None:
        return train_loss
    total += last_loss * (resumed_step - previous)
    return (total + train_loss * (global_step - resumed_step)) / global_step


__all__ = ["check_resume_arguments", "existing_run", "guard_output_dir", "whole_run_train_loss"]
