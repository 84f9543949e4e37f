"""2-process CPU DDP smoke run through `accelerate launch`: ranks end with identical weights (student, heads,
EMA teacher) and the logged loss is the per-sample loss, not multiplied by the world size."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_taco(clip_dir, dataset, tmp_path):
    videos = {"video": list(dataset["video"]), "label": list(dataset["label"]), "classes": dataset.features["label"].names}
    (tmp_path / "videos.json").write_text(json.dumps(videos))
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(WORKER), clip_dir, str(tmp_path / "videos.json"),
               str(tmp_path), "taco"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert set(states[0]) == set(states[1])
    assert any(k.startswith("ema_teacher.") for k in states[0]) and any(k.startswith("heads.") for k in states[0])
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], atol=1e-6, rtol=0, msg=key)
    log = json.loads((tmp_path / "rank0_log.json").read_text())
    assert log["world_size"] == 2
    steps = [entry for entry in log["log"] if "loss" in entry and "rsd" in entry]
    assert len(steps) == 3
    for entry in steps:  # loss = mean over ranks of (ce + 0.4 * rsd); a world-size scaling would double it
        assert entry["loss"] == pytest.approx(entry["ce"] + 0.4 * entry["rsd"], rel=2e-3, abs=2e-3)


@pytest.mark.slow
def test_two_process_recipe_trains_and_evaluates_sharded(clip_dir, dataset, tmp_path):
    """The whole recipe under 2 processes: training, export, then evaluation sharded across the ranks (each scores
    half the videos; rank 0 writes results.json), with no process left waiting."""
    names = dataset.features["label"].names
    lines = ["video,label"] + [f"{v},{names[label]}" for v, label in zip(dataset["video"], dataset["label"])]
    (tmp_path / "videos.csv").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    recipe = Path(__file__).resolve().parents[2] / "recipes" / "train.py"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(recipe), "--method", "ce", "--model", clip_dir,
               "--train_file", str(tmp_path / "videos.csv"), "--validation_file", str(tmp_path / "videos.csv"),
               "--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--num_frames", "4",
               "--per_device_train_batch_size", "2", "--per_device_eval_batch_size", "2", "--templates", "single",
               "--disable_tqdm", "true", "--save_strategy", "no"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    # The gathered shards equal a single-process evaluation of the same exported model on all 8 videos, with the
    # templates the recipe evaluates with (--eval_templates, default kinetics; --templates is training's).
    from hfvideoclip.evaluation.cli import main as evaluate_main

    assert evaluate_main(["--model", str(tmp_path / "run"), "--validation_file", str(tmp_path / "videos.csv"),
                          "--output_dir", str(tmp_path / "single"), "--templates", "kinetics", "--no_plot",
                          "--no_progress"]) == 0
    single = json.loads((tmp_path / "single" / "results.json").read_text())
    assert results["metrics"]["top1"] == pytest.approx(single["metrics"]["top1"])
    assert results["metrics"]["top5"] == pytest.approx(single["metrics"]["top5"])
    assert result.stdout.count("results.json") == 1  # only the main process reports
