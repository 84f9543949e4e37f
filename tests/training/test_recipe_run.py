"""The recipe end to end (what the README's main job runs), and which splits a trained model is scored on."""

import json
import os

import pytest
from transformers import AutoModel

import hfvideoclip  # noqa: F401
from hfvideoclip.toy.protocols import ProtocolData, ProtocolSplit
from hfvideoclip.training.recipe import comparable_splits, main


def test_comparable_splits_keep_only_the_trained_base_set():
    b2n = ProtocolData("toy-b2n", [ProtocolSplit(f"split{i}", {"video": [f"base{i}.mp4"]}, {}) for i in range(3)])
    assert [s.name for s in comparable_splits(b2n, 1).splits] == ["split1"]
    shared = {"video": ["source.mp4"]}
    xd = ProtocolData("toy-xd", [ProtocolSplit(f"split{i}", shared, {}) for i in range(3)])
    assert [s.name for s in comparable_splits(xd, 2).splits] == ["split0", "split1", "split2"]
    assert len(b2n.splits) == 3  # the protocol itself is left alone


@pytest.mark.slow
def test_train_recipe_trains_exports_and_evaluates_the_trained_split(tmp_path, toy_cache):
    out = tmp_path / "run"
    main(["--method", "ce", "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "4",
          "--per_device_eval_batch_size", "64", "--split", "1", "--cache_dir", str(toy_cache),
          "--disable_tqdm", "true"])
    results = json.load(open(out / "results.json"))
    assert results["protocol"] == "toy-b2n"
    assert [entry["split"] for entry in results["per_split"]] == ["split2"]
    metrics = results["metrics"]
    for name in ("base_top1", "novel_top1", "hm"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["hm"] == pytest.approx(2 * metrics["base_top1"] * metrics["novel_top1"]
                                          / (metrics["base_top1"] + metrics["novel_top1"]))
    model = AutoModel.from_pretrained(out)
    assert type(model).__name__ == "VideoClipModel" and model.config.temporal_mode == "mean"
    assert os.path.isfile(out / "README.md") and os.path.isfile(out / "results.md")


@pytest.mark.slow
def test_readme_main_job_says_its_base_model_and_scores_the_starting_model(tmp_path, capsys, monkeypatch, toy_cache):
    """The README's main job as written (its flags, 2 steps instead of the preset's 300): the console names the
    base model and its size, results.md ends with the starting model's zero-shot row, the run folder has its
    training curves."""
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    command = re.search(r"python recipes/train\.py ([^\n`]*)", readme).group(1)
    argv = shlex.split(command)
    assert argv[:2] == ["--method", "taco"]
    monkeypatch.chdir(tmp_path)
    main([*argv, "--max_steps", "2", "--logging_steps", "1", "--cache_dir", str(toy_cache),
          "--disable_tqdm", "true", "--per_device_eval_batch_size", "64"])
    printed = capsys.readouterr().out
    assert re.search(r"base model: \S*tiny_clip \(\d+ k parameters, 32-pixel frames", printed), printed[-3000:]
    out = tmp_path / argv[argv.index("--output_dir") + 1]
    results = json.load(open(out / "results.json"))
    assert set(results["baseline"]["metrics"]) >= {"base_top1", "novel_top1", "hm"}
    assert "| zero-shot, starting model |" in (out / "results.md").read_text()
    assert os.path.isfile(out / "training_curves.png")
    # what trained, printed at the start and carried to the card through train_args.json
    share = re.search(r"--adaptation (\S+): ([\d,]+) trainable parameters of ([\d,]+) \(([\d.]+) %\)", printed)
    assert share, printed[-3000:]
    recorded = json.load(open(out / "train_args.json"))["trainable_parameters"]
    assert recorded == {"adaptation": share.group(1), "trainable": int(share.group(2).replace(",", "")),
                        "total": int(share.group(3).replace(",", ""))}
    from hfvideoclip.hub.model_card import build_model_card

    card = build_model_card(method="taco", run_dir=str(out)).text
    assert f"**Trained parameters:** {share.group(2)} of {share.group(3)} parameters ({share.group(4)} %)" in card
