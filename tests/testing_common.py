"""The battery every training method passes (transformers' ModelTester idea, driven by the method registry).

`MethodTester(method).run_all(tmp_path, clip_dir, dataset, build)` trains a short CPU run, checks that stopping and
resuming equals training straight through, exports, reloads the export through `AutoModel` with the same logits,
and renders the model card from the method's template. `tests/training/test_method_battery.py` runs it over
`available_methods()`; `tests/training/test_method_folder.py` over a method folder made in a temporary package.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, CLIPConfig, CLIPModel, TrainerCallback

from hfvideoclip import VideoClipModel, VideoClipProcessor, VideoClipVideoProcessor
from hfvideoclip.hub.model_card import build_model_card
from hfvideoclip.methods import available_methods, get_method
from hfvideoclip.text.class_embeddings import class_bank
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.toy.tokenizer import build_tokenizer
from hfvideoclip.training.presets import read_preset

WORDS = ["a", "video", "of", "photo", "red", "blue", "circle", "square", "moving", "left", "right", "."]
CLASSES = ["red circle moving left", "blue square moving right"]


def write_tiny_clip(path, words=WORDS, vision_layers: int = 1, seed: int = 0) -> str:
    """Save a tiny random CLIP (hidden 32, 16-pixel frames, 8-pixel patches, projection 16) with the toy tokenizer
    of `words` and a 4-frame VideoClipProcessor in `path`; returns `path`."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(list(words))
    text = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4,
                vocab_size=len(tokenizer), max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=vision_layers, num_attention_heads=4,
                  image_size=16, patch_size=8)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(path)
    VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=4, size=16)).save_pretrained(path)
    return str(path)


def tiny_xclip_config(tokenizer, num_frames: int = 4):
    """A tiny `XCLIPConfig` (hidden 32, 2 layers per tower, mit and prompt generator of 1 layer, 32-pixel frames)
    for `tokenizer`."""
    from transformers import XCLIPConfig

    text = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                vocab_size=len(tokenizer), max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=16, num_frames=num_frames, mit_hidden_size=16, mit_intermediate_size=32,
                  mit_num_hidden_layers=1, mit_num_attention_heads=2)
    return XCLIPConfig(text_config=text, vision_config=vision, projection_dim=16, prompt_layers=1,
                       prompt_num_attention_heads=2)


def write_tiny_xclip(path, seed: int = 0) -> str:
    """Save a tiny random `XCLIPModel` as a Hub X-CLIP checkpoint holds it (config.json with model_type "xclip",
    weights, the toy CLIP's tokenizer, a VideoMAE-style preprocessor_config.json; no hfvideoclip file)."""
    import json

    from transformers import XCLIPModel

    from hfvideoclip.toy import toy_clip_path

    tokenizer = AutoTokenizer.from_pretrained(toy_clip_path())
    torch.manual_seed(seed)
    XCLIPModel(tiny_xclip_config(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    (Path(path) / "preprocessor_config.json").write_text(json.dumps(
        {"size": 32, "crop_size": 32, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    return str(path)


def write_toy_videos(folder, count: int = 8) -> list[tuple[str, int]]:
    """`count` 8-frame 16x16 mp4s of two classes (a red patch moving left, a blue one moving right) in `folder`:
    [(path, label), ...]."""
    rng = np.random.default_rng(0)
    videos = []
    for index in range(count):
        label = index % 2
        frames = np.zeros((8, 16, 16, 3), np.uint8)
        frames[..., label * 2] = 200
        for t in range(8):
            x = t if label == 1 else 7 - t
            frames[t, 4:10, x:x + 6] = rng.integers(0, 255, 3)
        path = Path(folder) / f"v{index}.mp4"
        write_mp4(frames, path, fps=8)
        videos.append((str(path), label))
    return videos


def write_csv(path, rows, header=("video", "label")) -> str:
    """A CSV of `rows` under `header` (own-data files); returns its path."""
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([list(header), *rows])
    return str(path)


def make_run_args(tmp_path, method, **overrides):
    """(VideoClipTrainingArguments, method config) for a 4-step CPU run; overrides go to whichever holds the field."""
    from dataclasses import fields

    from hfvideoclip.methods import get_method
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    config_class = get_method(method).config_class
    own = {f.name for f in fields(config_class)}
    values = dict(output_dir=str(tmp_path), method=method, num_frames=4, templates="single", max_steps=4,
                  per_device_train_batch_size=4, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                  report_to="none", seed=7, disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)
    method_values = {"taco": dict(ema_momentum=0.9), "open_mede": dict(gwa_every_n_steps=2, meta_tasks=2)}.get(method, {})
    for key, value in overrides.items():
        (method_values if key in own else values)[key] = value
    return VideoClipTrainingArguments(**values), config_class(**method_values)


def run_flags(clip_dir, out, *extra) -> list[str]:
    """`--model`, `--output_dir` and the flags of a short CPU run, then `extra`."""
    return ["--model", clip_dir, "--output_dir", str(out), "--num_frames", "4", "--templates", "single",
            "--per_device_train_batch_size", "4", "--logging_steps", "1", "--disable_tqdm", "true",
            "--report_to", "none", "--use_cpu", "true", "--dataloader_num_workers", "0", *extra]


def built_in_methods() -> list[str]:
    """The method folders of hfvideoclip itself (not the plug-ins other tests register)."""
    return [name for name in available_methods()
            if get_method(name).objective_class.__module__.startswith("hfvideoclip.methods.")]


class StopAt(TrainerCallback):
    """Save and stop at `step` (a run interrupted after a checkpoint)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True


def student_state(trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.student.state_dict().items()}


class MethodTester:
    """The shared checks of one registered method, run with the adaptation its preset trains (small widths)."""

    def __init__(self, method: str):
        self.method = method
        self.spec = get_method(method)
        preset = read_preset(self.spec.preset) if self.spec.preset else {}
        self.adaptation = preset.get("adaptation", "full")
        self.overrides = {"adaptation": self.adaptation}
        if self.adaptation in ("msta", "adapter"):
            self.overrides["msta_dim"] = 16

    def build(self, build, tmp_path, clip_dir, dataset, **overrides):
        return build(tmp_path, self.method, clip_dir, dataset, **{**self.overrides, **overrides})

    def check_trains_and_logs_its_terms(self, build, tmp_path, clip_dir, dataset):
        trainer = self.build(build, tmp_path, clip_dir, dataset)
        before = student_state(trainer)
        trainer.train()
        after = student_state(trainer)
        assert any(not torch.equal(before[k], after[k]) for k in before), f"{self.method}: no student weight moved"
        logged = {k for entry in trainer.state.log_history for k in entry}
        terms = logged - {"loss", "grad_norm", "learning_rate", "epoch", "step", "train_runtime", "train_loss",
                          "train_samples_per_second", "train_steps_per_second", "total_flos"}
        assert "loss" in logged and terms, f"{self.method} logged no named term: {sorted(logged)}"
        return trainer

    def check_resume_equals_straight_training(self, build, tmp_path, clip_dir, dataset, straight):
        expected = student_state(straight)
        first = self.build(build, tmp_path / "resume", clip_dir, dataset)
        first.add_callback(StopAt(2))
        first.train()
        assert first.state.global_step == 2
        second = self.build(build, tmp_path / "resume", clip_dir, dataset)
        second.train(resume_from_checkpoint=str(tmp_path / "resume" / "checkpoint-2"))
        resumed = student_state(second)
        for key in expected:
            torch.testing.assert_close(resumed[key], expected[key], atol=1e-6, rtol=0, msg=f"{self.method}: {key}")

    def check_export_reloads_with_the_same_logits(self, trainer, export_dir: Path):
        saved = trainer.exporter(trainer.objective, str(export_dir))  # what `save_model` writes, as a model
        exported = AutoModel.from_pretrained(export_dir)
        assert isinstance(exported, VideoClipModel)
        assert not any(k.startswith(("heads", "ema_teacher", "student", "frozen_teacher")) for k in exported.state_dict())
        pixels = next(iter(trainer.get_train_dataloader()))["pixel_values_videos"][:2]
        tokenizer = AutoTokenizer.from_pretrained(export_dir)
        names = trainer.model.class_texts.class_names if hasattr(trainer.model.class_texts, "class_names") else \
            ["red circle moving left", "blue square moving right"]
        saved.eval()
        with torch.no_grad():  # each scored by its own head (cosine, or OST's descriptors saved with it)
            scores = [model.compute_logits(*model.get_video_features(pixels, return_frame_embeds=True)[:1],
                                           class_bank(model, tokenizer, names, templates=["a video of {}."]),
                                           frame_embeds=model.get_video_features(pixels, return_frame_embeds=True)[1])
                      for model in (exported, saved)]
        torch.testing.assert_close(scores[0], scores[1], atol=1e-5, rtol=1e-5)
        assert scores[0].shape == (2, len(names)) and torch.isfinite(scores[0]).all()

    def check_card_renders_the_methods_template(self, export_dir: Path):
        card = build_model_card(method=self.method, base_model=None, results=None, run_dir=str(export_dir)).text
        template = self.spec.card_template
        if template:  # the folder's card.md: its family name heads the card
            family = re.search(r'set family_name = "([^"]+)"', Path(template).read_text())
            assert family is None or family.group(1) in card, f"{self.method}: card does not use {template}"
        assert self.method in card

    def run_all(self, tmp_path: Path, clip_dir: str, dataset, build) -> None:
        trainer = self.check_trains_and_logs_its_terms(build, tmp_path / "straight", clip_dir, dataset)
        self.check_resume_equals_straight_training(build, tmp_path, clip_dir, dataset, trainer)
        self.check_export_reloads_with_the_same_logits(trainer, tmp_path / "export")
        self.check_card_renders_the_methods_template(tmp_path / "export")
