"""A run's folder and its base model (issue 25): no silent reuse of an earlier run's folder, no resume under other
arguments, the base model said on the console and never the toy CLIP on real data by default."""

import csv
import json

import pytest
from safetensors.torch import load_file

import hfvideoclip  # noqa: F401
from hfvideoclip.cli import main as cli_main
from hfvideoclip.training.run_folder import whole_run_train_loss


def _csv(path, dataset):
    names = dataset.features["label"].names
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "label"])
        for video, label in zip(dataset["video"], dataset["label"]):
            writer.writerow([video, names[label]])
    return str(path)


def _flags(clip_dir, out, train, *extra):
    return ["train", "--method", "ce", "--model", clip_dir, "--output_dir", str(out), "--num_frames", "4",
            "--templates", "single", "--per_device_train_batch_size", "4", "--logging_steps", "1",
            "--disable_tqdm", "true", "--report_to", "none", "--use_cpu", "true", "--train_file", train,
            "--skip_final_eval", "true", "--dataloader_num_workers", "0", *extra]


def test_a_second_run_into_a_used_folder_is_refused_and_overwrite_clears_stale_checkpoints(
        clip_dir, dataset, tmp_path, capsys):
    train, out = _csv(tmp_path / "train.csv", dataset), tmp_path / "run"
    assert cli_main(_flags(clip_dir, out, train, "--max_steps", "4", "--save_steps", "4")) == 0
    first = load_file(out / "model.safetensors")
    capsys.readouterr()
    assert cli_main(_flags(clip_dir, out, train, "--max_steps", "2", "--learning_rate", "1e-3")) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "checkpoint-4" in err and "--overwrite_output_dir" in err
    assert load_file(out / "model.safetensors").keys() == first.keys()  # nothing was touched
    assert cli_main(_flags(clip_dir, out, train, "--max_steps", "2", "--save_steps", "2", "--learning_rate", "1e-3",
                           "--overwrite_output_dir", "true")) == 0
    assert "removed the earlier run's checkpoint-4" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2"]  # no stale checkpoint-4 to resume
    from PIL import Image

    with Image.open(out / "training_curves.png") as image:  # loss and learning rate per step, in the run folder
        assert image.format == "PNG" and image.height > 300


def test_resume_under_other_arguments_is_refused_listing_them(clip_dir, dataset, tmp_path, capsys):
    train, out = _csv(tmp_path / "train.csv", dataset), tmp_path / "run"
    assert cli_main(_flags(clip_dir, out, train, "--max_steps", "4", "--save_steps", "2")) == 0
    capsys.readouterr()
    code = cli_main(_flags(clip_dir, out, train, "--max_steps", "6", "--save_steps", "2", "--learning_rate", "1e-3",
                           "--resume_from_checkpoint", str(out / "checkpoint-2")))
    err = capsys.readouterr().err
    assert code == 2 and "other arguments" in err and "learning_rate" in err and "max_steps: 4 -> 6" in err
    # the same arguments resume; the console says from where, and train_loss covers all 4 steps
    assert cli_main(_flags(clip_dir, out, train, "--max_steps", "4", "--save_steps", "2",
                           "--resume_from_checkpoint", str(out / "checkpoint-2"))) == 0
    assert f"resuming from {out / 'checkpoint-2'}" in capsys.readouterr().out


def test_whole_run_train_loss_counts_the_steps_before_the_resume():
    history = [{"step": 1, "loss": 4.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0}, {"step": 4, "loss": 1.0}]
    # resumed at 2: the Trainer's own mean covers steps 3-4 (1.0); the whole run is (4 + 2 + 1 + 1) / 4
    assert whole_run_train_loss(1.0, 4, 2, history) == pytest.approx(2.0)
    assert whole_run_train_loss(1.0, 4, 0, history) == 1.0  # not resumed: the Trainer's value
    # logged every 2 steps: the interval means weigh their steps
    assert whole_run_train_loss(1.0, 6, 4, [{"step": 2, "loss": 3.0}, {"step": 4, "loss": 2.0}]) == pytest.approx(
        (3.0 * 2 + 2.0 * 2 + 1.0 * 2) / 6)


def test_own_data_needs_a_named_model_and_every_run_says_its_base_model(clip_dir, dataset, tmp_path, capsys):
    train = _csv(tmp_path / "train.csv", dataset)
    flags = [f for f in _flags(clip_dir, tmp_path / "a", train, "--max_steps", "1") if f != clip_dir]
    flags.remove("--model")
    assert cli_main(flags) == 2
    err = capsys.readouterr().err
    assert "--train_file needs a base model" in err and "--model openai/clip-vit-base-patch16" in err
    assert cli_main(_flags(clip_dir, tmp_path / "b", train, "--max_steps", "1")) == 0
    out = capsys.readouterr().out
    assert f"base model: {clip_dir} (" in out and "k parameters, 16-pixel frames" in out
    recorded = json.loads((tmp_path / "b" / "train_args.json").read_text())["arguments"]
    assert recorded["model"]["value"] == clip_dir


def test_the_toy_clip_on_own_data_is_asked_for_by_name(dataset, tmp_path, capsys):
    from hfvideoclip.training.recipe import ScriptArguments, VideoDataArguments, base_model_path

    own = VideoDataArguments(train_file="videos.csv")
    assert base_model_path(ScriptArguments(model="toy-clip"), own).endswith("tiny_clip")
    with pytest.raises(ValueError, match="--protocol b2n-ucf101 needs a base model"):
        base_model_path(ScriptArguments(protocol="b2n-ucf101"), VideoDataArguments())
    assert base_model_path(ScriptArguments(), VideoDataArguments()).endswith("tiny_clip")  # the toy protocols


def test_a_launch_that_dropped_processes_is_told(monkeypatch, capsys):
    from hfvideoclip.training.recipe import warn_if_processes_were_dropped

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    warn_if_processes_were_dropped()
    assert "started one; on CPU add --multi_gpu" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    warn_if_processes_were_dropped()
    assert capsys.readouterr().err == ""
