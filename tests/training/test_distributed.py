"""2-process CPU runs through `accelerate launch`. DDP: ranks end with identical weights (student, heads, EMA
teacher), the logged loss is the per-sample loss, not multiplied by the world size, and DDP does not search for
unused parameters. FSDP (recipes/accelerate/fsdp.yaml): the weights are sharded DTensors and the run equals the DDP
run (losses, EMA teacher, exported model); configurations that cannot shard, and DeepSpeed without its package,
are refused in one line."""

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]
FSDP_CONFIG = ROOT / "recipes" / "accelerate" / "fsdp.yaml"
UNUSED_SEARCH_WARNING = "find_unused_parameters=True was specified"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fsdp2_available() -> bool:
    from accelerate.utils import FullyShardedDataParallelPlugin

    return "fsdp_version" in getattr(FullyShardedDataParallelPlugin, "__dataclass_fields__", {})


def launch(launcher: list[str], script: Path, script_args: list[str], cpu_env: bool = True):
    """`accelerate launch <launcher> --num_processes 2 ... script script_args` on CPU; the finished process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if cpu_env:
        env["ACCELERATE_USE_CPU"] = "true"
    command = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(script), *script_args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def write_videos(dataset, path: Path) -> Path:
    videos = {"video": list(dataset["video"]), "label": list(dataset["label"]), "classes": dataset.features["label"].names}
    path.write_text(json.dumps(videos))
    return path


@pytest.fixture(scope="module")
def ddp_taco(clip_dir, dataset, tmp_path_factory):
    """The DDP run of TACO (3 steps, 2 processes): (its folder, the finished launcher process)."""
    folder = tmp_path_factory.mktemp("ddp_taco")
    videos = write_videos(dataset, folder / "videos.json")
    result = launch(["--multi_gpu"], WORKER, [clip_dir, str(videos), str(folder), "taco"])
    return folder, result


@pytest.mark.slow
def test_two_process_ddp_taco(ddp_taco):
    tmp_path, result = ddp_taco
    assert result.returncode == 0, result.stderr[-3000:]
    # The objective says every trainable parameter gets a gradient: DDP does not search the graph for unused ones.
    assert UNUSED_SEARCH_WARNING not in result.stdout + result.stderr
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


@pytest.mark.slow
@pytest.mark.skipif(not fsdp2_available(), reason="this accelerate has no FSDP2 (refusal: test_fsdp_config_that_"
                    "cannot_shard_is_refused)")
def test_two_process_fsdp_shards_and_equals_ddp(ddp_taco, clip_dir, tmp_path):
    """recipes/accelerate/fsdp.yaml as shipped (2 processes, no precision change) on a machine without accelerator:
    sharded DTensor weights, and the run of DDP to float32 rounding: losses, student, heads, EMA teacher, export."""
    ddp_dir, ddp_result = ddp_taco
    assert ddp_result.returncode == 0, ddp_result.stderr[-3000:]
    result = launch(["--config_file", str(FSDP_CONFIG)], WORKER,
                    [clip_dir, str(ddp_dir / "videos.json"), str(tmp_path), "taco"], cpu_env=False)
    assert result.returncode == 0, result.stderr[-3000:]
    logs = [json.loads((tmp_path / f"rank{r}_log.json").read_text()) for r in (0, 1)]
    for log in logs:
        held = log["held"]
        assert held["distributed_type"].endswith("FSDP") and held["sharded"] == held["parameters"] > 0
        assert held["local_numel"] < 0.6 * held["full_numel"]  # each rank holds about half of every tensor
    assert sum(log["held"]["local_numel"] for log in logs) == logs[0]["held"]["full_numel"]
    ddp_log = json.loads((ddp_dir / "rank0_log.json").read_text())
    losses = [[entry["loss"] for entry in log["log"] if "loss" in entry] for log in (*logs, ddp_log)]
    assert len(losses[0]) == 3 and losses[0] == losses[1]
    assert losses[0] == pytest.approx(losses[2], rel=1e-4, abs=1e-5)
    fsdp_states = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    ddp_state = torch.load(ddp_dir / "rank0.pt")
    assert set(fsdp_states[0]) == set(ddp_state) and any(k.startswith("ema_teacher.") for k in ddp_state)
    for key, value in ddp_state.items():
        torch.testing.assert_close(fsdp_states[0][key], fsdp_states[1][key], atol=0, rtol=0, msg=key)
        torch.testing.assert_close(fsdp_states[0][key].reshape(value.shape), value, atol=1e-4, rtol=1e-4, msg=key)
    from safetensors.torch import load_file

    exported, reference = load_file(tmp_path / "export" / "model.safetensors"), load_file(
        ddp_dir / "export" / "model.safetensors")
    assert set(exported) == set(reference)
    for key, value in reference.items():  # shapes included: logit_scale is a scalar again
        torch.testing.assert_close(exported[key], value, atol=1e-4, rtol=1e-4, msg=key)


def test_fsdp_config_that_cannot_shard_is_refused(clip_dir, tmp_path):
    """FSDP1 on CPU (here: fsdp.yaml with fsdp_version 1) stops every process with one line naming the fix."""
    config = tmp_path / "fsdp1.yaml"
    config.write_text(FSDP_CONFIG.read_text().replace("fsdp_version: 2", "fsdp_version: 1"))
    result = launch(["--config_file", str(config)], ROOT / "recipes" / "train.py",
                    ["--method", "ce", "--model", clip_dir, "--output_dir", str(tmp_path / "run")], cpu_env=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    expected = "fsdp_version: 2" if fsdp2_available() else "pip install -U accelerate"
    assert len(errors) == 2 and all(expected in line for line in errors), result.stderr[-3000:]
    assert "[rank0]: Traceback" not in result.stderr  # the processes stop with the line, not a traceback


def test_fsdp_refuses_methods_run_at_substituted_weights(monkeypatch, tmp_path):
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "2")
    monkeypatch.setenv("ACCELERATE_USE_CPU", "true")
    expected = "recipes/accelerate/ddp.yaml" if fsdp2_available() else "pip install -U accelerate"
    for method in ("open_vclip", "open_mede"):
        with pytest.raises(ValueError, match=re.escape(expected)):
            VideoClipTrainingArguments(output_dir=str(tmp_path), method=method, report_to="none")


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_deepspeed_without_its_package_is_refused(monkeypatch, tmp_path, capsys):
    from hfvideoclip.training.arguments import VideoClipTrainingArguments
    from hfvideoclip.training.recipe import main

    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto"}))
    with pytest.raises(ValueError, match=re.escape('pip install "hfvideoclip[deepspeed]"')):
        VideoClipTrainingArguments(output_dir=str(tmp_path), deepspeed=str(config), report_to="none")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what `accelerate launch` sets for a DeepSpeed config
    assert main(["--method", "ce", "--output_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "hfvideoclip[deepspeed]"' in err[0]
