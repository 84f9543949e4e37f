"""The train recipe through `hfvideoclip.cli.main`: a method defined here (no package file names it), the user's own
data in three forms, `train_args.json`, resume from the last checkpoint, `--help` groups and one-line errors."""

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

import hfvideoclip  # noqa: F401
from hfvideoclip.cli import main as cli_main
from hfvideoclip.methods import MethodConfig, Objective, register_method

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LabelSmoothedConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "smoothed_ce (test) options"

    smoothing: float = field(default=0.1, metadata={"help": "Label smoothing of the test method."})


@register_method("smoothed_ce")
class LabelSmoothedObjective(Objective):
    """A method that lives only in this test file: CE with label smoothing through the model's scoring head."""

    config_class = LabelSmoothedConfig
    calls = 0

    def loss(self, pixel_values_videos, labels):
        type(self).calls += 1
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        logits = self.student.compute_logits(video, self.class_embeddings(), frame_embeds=frames)
        loss = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=self.config.smoothing)
        return {"loss": loss, "smoothed_ce": loss.detach()}


def _write_csv(path, dataset):
    names = dataset.features["label"].names
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "label"])
        for video, label in zip(dataset["video"], dataset["label"]):
            writer.writerow([video, names[label]])
    return str(path)


def _common(clip_dir, out, *extra):
    return ["--model", clip_dir, "--output_dir", str(out), "--num_frames", "4", "--templates", "single",
            "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "8", "--logging_steps", "1",
            "--disable_tqdm", "true", "--report_to", "none", "--use_cpu", "true", *extra]


def test_a_method_registered_in_user_code_trains_exports_and_reloads(clip_dir, dataset, tmp_path, capsys):
    train = _write_csv(tmp_path / "train.csv", dataset)
    out = tmp_path / "run"
    LabelSmoothedObjective.calls = 0
    code = cli_main(["train", "--method", "smoothed_ce", *_common(clip_dir, out, "--max_steps", "2",
                     "--smoothing", "0.3", "--train_file", train, "--validation_file", train)])
    assert code == 0
    assert LabelSmoothedObjective.calls >= 2
    model = AutoModel.from_pretrained(out)
    assert type(model).__name__ == "VideoClipModel" and model.config.temporal_mode == "mean"
    recorded = json.loads((out / "train_args.json").read_text())
    assert recorded["method"] == "smoothed_ce" and recorded["preset"] is None
    assert recorded["arguments"]["smoothing"] == {"value": 0.3, "source": "command line"}
    assert recorded["arguments"]["learning_rate"]["source"] == "default"
    history = json.loads(next(out.glob("checkpoint-*/trainer_state.json"), out / "trainer_state.json").read_text())
    assert any("smoothed_ce" in entry for entry in history["log_history"])  # its own term is logged
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["metrics"]["top1"] <= 1.0
    printed = capsys.readouterr().out
    assert f"model:     {out}" in printed and "results.json" in printed


@pytest.mark.parametrize("source", ["csv", "videofolder", "datasets"])
def test_training_and_evaluation_on_own_data(clip_dir, dataset, tmp_path, source):
    names = dataset.features["label"].names
    if source == "csv":
        path = _write_csv(tmp_path / "videos.csv", dataset)
        flags = ["--train_file", path, "--validation_file", path]
    elif source == "videofolder":
        for video, label in zip(dataset["video"], dataset["label"]):
            folder = tmp_path / "folder" / names[label].replace(" ", "_")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(video, folder / os.path.basename(video))
        flags = ["--train_dir", str(tmp_path / "folder"), "--validation_dir", str(tmp_path / "folder")]
    else:
        from datasets import DatasetDict, Video

        with_video = dataset.cast_column("video", Video(decode=False))
        DatasetDict({"train": with_video, "validation": with_video}).save_to_disk(str(tmp_path / "hub_like"))
        flags = ["--dataset_name", str(tmp_path / "hub_like")]
    out = tmp_path / "run"
    assert cli_main(["train", "--method", "ce", *_common(clip_dir, out, "--max_steps", "1", *flags)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [entry["split"] for entry in results["per_split"]] == ["split1"]
    assert 0.0 <= results["metrics"]["top1"] <= 1.0
    assert AutoModel.from_pretrained(out).config.num_frames == 4


def test_interrupted_preset_run_resumes_to_the_same_weights(clip_dir, dataset, tmp_path):
    train = _write_csv(tmp_path / "train.csv", dataset)
    flags = ["--max_steps", "4", "--save_steps", "2", "--train_file", train, "--skip_final_eval", "true",
             "--ema_momentum", "0.9"]
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert cli_main(["train", "--method", "taco", *_common(clip_dir, straight, *flags)]) == 0
    assert cli_main(["train", "--method", "taco", *_common(clip_dir, interrupted, *flags)]) == 0
    # As if stopped right after the first checkpoint: only checkpoint-2 survives.
    shutil.rmtree(interrupted / "checkpoint-4")
    (interrupted / "model.safetensors").unlink()
    assert sorted(p.name for p in interrupted.glob("checkpoint-*")) == ["checkpoint-2"]
    assert cli_main(["train", "--method", "taco", *_common(clip_dir, interrupted, *flags),
                     "--resume_from_checkpoint"]) == 0
    expected, resumed = load_file(straight / "model.safetensors"), load_file(interrupted / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], atol=1e-6, rtol=0, msg=key)
    state = json.loads((interrupted / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    recorded = json.loads((interrupted / "train_args.json").read_text())["arguments"]
    assert recorded["resume_from_checkpoint"] == {"value": "true", "source": "command line"}
    assert recorded["weight_decay"]["source"] == "preset" and recorded["rsd_weight"]["source"] == "preset"


def test_resume_without_a_checkpoint_is_one_line(clip_dir, dataset, tmp_path, capsys):
    train = _write_csv(tmp_path / "train.csv", dataset)
    code = cli_main(["train", "--method", "ce", *_common(clip_dir, tmp_path / "empty", "--train_file", train,
                                                         "--resume_from_checkpoint", "true")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no checkpoint-* folder" in err


def test_missing_model_is_one_line_naming_it(dataset, tmp_path, capsys):
    train = _write_csv(tmp_path / "train.csv", dataset)
    code = cli_main(["train", "--method", "ce", "--model", str(tmp_path / "no_such_model"), "--train_file", train,
                     "--output_dir", str(tmp_path / "out"), "--use_cpu", "true"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_model" in err and "--model" in err


def test_help_shows_the_methods_own_flags_apart(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", "--method", "taco", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    group = text.index("\ntaco (TACO) options")
    assert text.index("\n  --rsd_weight") > group and text.index("\n  --learning_rate") < group
    assert "--dataset_name" in text and "methods: ce, froster, msta, open_mede, open_vclip, ost, taco" in text


@pytest.mark.slow
def test_non_editable_install_runs_the_taco_preset_from_another_directory(clip_dir, dataset, tmp_path):
    """`pip install .` (not -e) into a fresh target: presets travel as package data."""
    import setuptools

    target = tmp_path / "site"
    # Build with the installed setuptools when it is recent enough (no download), else in pip's isolated env.
    isolation = ["--no-build-isolation"] if int(setuptools.__version__.split(".")[0]) >= 68 else []
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation,
                    "--target", str(target), str(source)], check=True, cwd=tmp_path)
    folder = target / "hfvideoclip" / "methods" / "taco"  # the method folder travels whole
    assert not (folder / "preset.yaml").is_symlink() and (folder / "preset.yaml").is_file()
    assert (folder / "card.md").is_file() and (folder / "presets" / "k400.yaml").is_file()
    entry_points = next(target.glob("hfvideoclip-*.dist-info")) / "entry_points.txt"
    assert "toy-b2n = hfvideoclip.toy.protocols:load_toy_b2n" in entry_points.read_text()
    train = _write_csv(tmp_path / "train.csv", dataset)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    script = ("import sys, hfvideoclip; assert hfvideoclip.__file__.startswith(sys.argv[1]), hfvideoclip.__file__; "
              "from hfvideoclip.cli import main; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", script, str(target), "train", "--method", "taco", "--max_steps",
                             "2", "--model", clip_dir, "--num_frames", "4", "--per_device_train_batch_size", "4",
                             "--train_file", train, "--skip_final_eval", "true", "--output_dir", "out",
                             "--use_cpu", "true", "--disable_tqdm", "true"],
                            cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = json.loads((workdir / "out" / "train_args.json").read_text())
    assert recorded["preset"].startswith(str(target)) and recorded["preset"].endswith("taco/preset.yaml")
    assert recorded["arguments"]["weight_decay"] == {"value": 0.2, "source": "preset"}
    assert recorded["arguments"]["rsd_weight"] == {"value": 0.4, "source": "preset"}


def test_protocol_params_are_a_json_object_or_a_clear_error():
    from hfvideoclip.training.recipe import parse_protocol_params

    assert parse_protocol_params('{"shots": 16, "motions": ["moving left", "moving right"]}') == {
        "shots": 16, "motions": ["moving left", "moving right"]}
    assert parse_protocol_params(None) == {}
    with pytest.raises(ValueError, match="--protocol_params is not valid JSON"):
        parse_protocol_params("shots=16")
    with pytest.raises(ValueError, match="--protocol_params must be a JSON object"):
        parse_protocol_params("[16]")
