"""X-CLIP (transformers' `XCLIPModel`) as a backbone: `VideoXClipModel` scores exactly as `XCLIPModel`, trains under
the methods that can work on it (`hfvideoclip train --model <xclip folder>`), exports a folder that loads and runs
the pipeline by Hub id without the package, and refuses what X-CLIP lacks in one line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from testing_common import tiny_xclip_config, write_tiny_xclip
from transformers import AutoModel, AutoTokenizer, XCLIPModel, pipeline

import hfvideoclip
from hfvideoclip import VideoClipProcessor, VideoXClipModel
from hfvideoclip.models.video_clip import scaled_cosine_logits
from hfvideoclip.models.video_clip.modeling_video_xclip import XClipVideoContext
from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.training.recipe import main

TOY_CLIP = toy_clip_path()
FRAMES = 4
METHODS = ("ce", "taco", "open_mede")
LABELS = ["red circle moving left", "blue square moving right", "green triangle"]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(TOY_CLIP)  # the toy world's words, one token each


@pytest.fixture(scope="module")
def xclip(tokenizer):
    torch.manual_seed(0)
    return XCLIPModel(tiny_xclip_config(tokenizer)).eval()


@pytest.fixture(scope="module")
def xclip_dir(xclip, tmp_path_factory):
    """A folder as a Hub X-CLIP checkpoint holds it (`write_tiny_xclip`: the same seed, so the same weights as
    `xclip`)."""
    return write_tiny_xclip(tmp_path_factory.mktemp("xclip") / "tiny-xclip")


def clips(batch=2, seed=1):
    return torch.randn(batch, FRAMES, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def class_ids(tokenizer, labels=LABELS):
    tokens = tokenizer([f"a video of {label}." for label in labels], padding=True, return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]


# ---------------------------------------------------------------------------------------------------- modeling
@torch.no_grad()
def test_logits_equal_xclip_logits_per_video(xclip, tokenizer):
    model = VideoXClipModel.from_xclip(xclip).eval()
    ids, mask = class_ids(tokenizer)
    pixels = clips()
    expected = xclip(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_video
    video, context = model.get_video_features(pixel_values_videos=pixels, return_frame_embeds=True)
    assert isinstance(context, XClipVideoContext) and context.patch_tokens.shape == (2, 4, 16)  # (B, N, D)
    text = model.get_class_embeddings(ids, mask)  # (C, D), before the video-specific prompt
    assert text.shape == (3, 16)
    logits = model.compute_logits(video, text, frame_embeds=context)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    # the same through forward, a one-template ensemble (C, 1, L), and a bank already conditioned per video
    torch.testing.assert_close(model(input_ids=ids, pixel_values_videos=pixels, attention_mask=mask).logits_per_video,
                               expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.compute_logits(video, model.get_class_embeddings(ids[:, None], mask[:, None]),
                                                    frame_embeds=context), expected, atol=1e-5, rtol=1e-5)
    per_video = model.video_conditioned_class_embeddings(text, context)
    assert per_video.shape == (2, 3, 16)
    torch.testing.assert_close(model.compute_logits(video, per_video), expected, atol=1e-5, rtol=1e-5)
    # the prompt matters: scoring the bare class texts gives other logits, and is refused without the context
    assert not torch.allclose(scaled_cosine_logits(video, text, model.logit_scale), expected, atol=1e-4)
    with pytest.raises(ValueError, match="conditioned on each video"):
        model.compute_logits(video, text)
    with pytest.raises(ValueError, match="clips of 4 frames"):
        model.get_video_features(pixel_values_videos=torch.zeros(1, 8, 3, 32, 32))


@torch.no_grad()
def test_checkpoint_folder_loads_wrapped_and_round_trips_through_auto_model(xclip_dir, xclip, tokenizer, tmp_path):
    from hfvideoclip.loading import load_video_clip_model

    model = load_video_clip_model(xclip_dir).eval()
    assert type(model) is VideoXClipModel and model.config.temporal_mode == "xclip"
    assert model.config.num_frames == FRAMES and model.config.image_mean == [0.485, 0.456, 0.406]
    model.save_pretrained(tmp_path / "saved")
    again = AutoModel.from_pretrained(tmp_path / "saved").eval()
    assert type(again) is VideoXClipModel
    ids, mask = class_ids(tokenizer)
    expected = xclip(input_ids=ids, pixel_values=clips(), attention_mask=mask).logits_per_video
    torch.testing.assert_close(again(input_ids=ids, pixel_values_videos=clips(), attention_mask=mask).logits_per_video,
                               expected, atol=1e-5, rtol=1e-5)
    processor = VideoClipProcessor.from_pretrained(xclip_dir)  # the X-CLIP folder's frame count and normalisation
    assert processor.video_processor.num_frames == FRAMES and processor.video_processor.image_std[0] == 0.229


def test_remote_code_entry_files_import_everything_they_need_directly():
    from transformers.dynamic_module_utils import get_relative_import_files, get_relative_imports

    folder = Path(hfvideoclip.__file__).parent / "models" / "video_clip"
    for entry in ("modeling_video_xclip.py", "configuration_video_xclip.py"):
        closure = {Path(f).stem for f in get_relative_import_files(str(folder / entry))}
        assert not closure - set(get_relative_imports(str(folder / entry))), entry


# ---------------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def cache_dir(toy_cache):
    return toy_cache


def train_args(method, model, output_dir, cache_dir, *extra):
    return ["--method", method, "--model", str(model), "--num_frames", str(FRAMES), "--output_dir", str(output_dir),
            "--max_steps", "2", "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "64",
            "--logging_steps", "1", "--cache_dir", str(cache_dir), "--disable_tqdm", "true",
            "--dataloader_num_workers", "0", *extra]


@pytest.fixture(scope="module")
def runs(xclip_dir, cache_dir, tmp_path_factory):
    """`hfvideoclip train --method <m> --model <X-CLIP folder>` for 2 steps on the toy world, per method."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for method in METHODS:
        extra = [] if method == "ce" else ["--zero_shot_baseline", "false"]  # ce: the starting model is scored too
        if method == "open_mede":
            extra += ["--gwa_every_n_steps", "1"]
        assert main(train_args(method, xclip_dir, root / method, cache_dir, *extra)) == 0, method
        out[method] = root / method
    return out


@torch.no_grad()
def reference_outputs(folder, video):
    """In-process (package installed): the exported model's logits for LABELS and the pipeline's ranking."""
    model = AutoModel.from_pretrained(folder).eval()
    processor = VideoClipProcessor.from_pretrained(folder)
    inputs = processor(text=LABELS, videos=[video])
    logits = model(input_ids=inputs["input_ids"], pixel_values_videos=inputs["pixel_values_videos"],
                   attention_mask=inputs["attention_mask"]).logits_per_video
    ranked = pipeline("zero-shot-video-classification", model=str(folder))(video, candidate_labels=LABELS)
    return type(model), logits, ranked


def test_training_runs_export_folders_that_load_and_run_the_pipeline_without_the_package(runs, tmp_path):
    hf_home, commit = tmp_path / "hf_home", "0" * 40
    video = np.random.default_rng(0).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    expected = {}
    for method, folder in runs.items():
        results = json.loads((folder / "results.json").read_text())
        assert 0.0 <= results["metrics"]["hm"] <= 1.0, method
        config = json.loads((folder / "config.json").read_text())
        assert config["model_type"] == "video_xclip" and config["temporal_mode"] == "xclip", method
        assert config["auto_map"]["AutoModel"] == "modeling_video_xclip.VideoXClipModel", method
        model_class, logits, ranked = reference_outputs(folder, video)
        assert model_class is VideoXClipModel
        assert [r["label"] for r in ranked] and sum(r["score"] for r in ranked) == pytest.approx(1.0)
        expected[method] = (logits, ranked)
        snapshot = hf_home / "hub" / f"models--org--xclip-{method}" / "snapshots" / commit
        shutil.copytree(folder, snapshot, ignore=shutil.ignore_patterns("checkpoint-*"))
        (snapshot.parent.parent / "refs").mkdir()
        (snapshot.parent.parent / "refs" / "main").write_text(commit)
    assert "baseline" in json.loads((runs["ce"] / "results.json").read_text())  # the starting X-CLIP, zero-shot
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the repositories' code may run
import numpy as np, torch
from transformers import AutoModel, AutoProcessor, pipeline
video, out = np.load({str(tmp_path / 'video.npy')!r}), {{}}
for method in {list(METHODS)!r}:
    repo = "org/xclip-" + method
    model = AutoModel.from_pretrained(repo, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(repo, trust_remote_code=True)
    inputs = processor(text={LABELS!r}, videos=[video])
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"], pixel_values_videos=inputs["pixel_values_videos"],
                       attention_mask=inputs["attention_mask"]).logits_per_video
    ranked = pipeline("zero-shot-video-classification", model=repo, trust_remote_code=True)(
        video, candidate_labels={LABELS!r})
    out[method] = {{"class": type(model).__name__, "logits": logits.tolist(), "ranked": ranked}}
print(json.dumps(out))
"""
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for method, (logits, ranked) in expected.items():
        assert got[method]["class"] == "VideoXClipModel"
        torch.testing.assert_close(torch.tensor(got[method]["logits"]), logits, atol=1e-5, rtol=1e-5)
        assert [(r["label"], pytest.approx(r["score"], abs=1e-5)) for r in got[method]["ranked"]] == [
            (r["label"], r["score"]) for r in ranked]


@torch.no_grad()
def test_evaluator_scores_with_the_unnormalised_class_texts(xclip_dir, tmp_path):
    """The harness keeps X-CLIP's class bank at its scale (the prompt generator reads it): its logits are the
    model's own `compute_logits` against `get_class_embeddings`."""
    from hfvideoclip.evaluation.harness import evaluate_dataset
    from hfvideoclip.loading import load_video_clip_model

    model = load_video_clip_model(xclip_dir).eval()
    processor = VideoClipProcessor.from_pretrained(xclip_dir)
    frames = np.random.default_rng(2).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
    write_mp4(frames, tmp_path / "v.mp4", fps=8)
    dataset = Dataset.from_dict({"video": [str(tmp_path / "v.mp4")], "label": [1]},
                                features=Features({"video": Value("string"), "label": ClassLabel(names=LABELS)}))
    output = evaluate_dataset(model, processor, dataset, templates=["a video of {}."], progress=False,
                              num_workers=0, keep_examples=0)
    pixels = processor(videos=[str(tmp_path / "v.mp4")])["pixel_values_videos"]
    ids, mask = class_ids(processor.tokenizer)
    video, context = model.get_video_features(pixel_values_videos=pixels, return_frame_embeds=True)
    expected = model.compute_logits(video, model.get_class_embeddings(ids[:, None], mask[:, None]),
                                    frame_embeds=context)
    torch.testing.assert_close(output.logits, expected, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------- build checks
@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    rows = {"video": [], "label": []}
    for index in range(4):
        path = folder / f"v{index}.mp4"
        write_mp4(rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8), path, fps=8)
        rows["video"].append(str(path))
        rows["label"].append(index % 2)
    return Dataset.from_dict(rows, features=Features({"video": Value("string"),
                                                      "label": ClassLabel(names=LABELS[:2])}))


def build(xclip_dir, videos, tmp_path, method="ce", **overrides):
    from dataclasses import fields

    from hfvideoclip.methods import get_method
    from hfvideoclip.training.arguments import VideoClipTrainingArguments
    from hfvideoclip.training.builder import build_trainer

    config_class = get_method(method).config_class
    own = {f.name for f in fields(config_class)}
    values = dict(output_dir=str(tmp_path), method=method, num_frames=FRAMES, templates="single", max_steps=2,
                  per_device_train_batch_size=2, learning_rate=1e-3, save_strategy="no", report_to="none", seed=7,
                  disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)
    method_values = {key: value for key, value in overrides.items() if key in own}
    values.update({key: value for key, value in overrides.items() if key not in own})
    return build_trainer(VideoClipTrainingArguments(**values), xclip_dir, videos,
                         method_config=config_class(**method_values))


@pytest.mark.parametrize("method, overrides, message", [
    ("ost", {}, "--method ost cannot train an X-CLIP model (.*): it scores every frame's embedding against "
                "per-class descriptors .* X-CLIP has no frame scoring .* Methods that train it: ce, msta, "
                "open_mede, open_vclip, taco"),
    ("froster", {}, "--method froster cannot train an X-CLIP model .* X-CLIP has no frame mean teacher"),
    ("ce", {"temporal_mode": "vclip"}, "--temporal_mode vclip: .* is an X-CLIP model, whose temporal modelling is "
                                       "its own"),
    ("ce", {"num_frames": 8}, r"--num_frames 8: .* X-CLIP model for 4-frame clips .* pass --num_frames 4\."),
    ("ce", {"adaptation": "msta"}, "--adaptation msta cannot adapt an X-CLIP model .* use full, frozen_text, lora"),
    ("ce", {"adaptation": "st_adapter"}, "--adaptation st_adapter cannot adapt an X-CLIP model"),
    ("open_vclip", {"frame_pooling": "logits"}, "--frame_pooling logits does not apply to an X-CLIP model"),
])
def test_what_xclip_lacks_is_refused_in_one_line(xclip_dir, videos, tmp_path, method, overrides, message):
    with pytest.raises(ValueError, match=message) as error:
        build(xclip_dir, videos, tmp_path, method, **overrides)
    assert "\n" not in str(error.value)


def test_the_command_line_refuses_in_one_line(xclip_dir, cache_dir, tmp_path, capsys):
    assert main(train_args("ost", xclip_dir, tmp_path / "ost", cache_dir)) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the weight-loading progress bars
    assert last.startswith("error: --method ost cannot train an X-CLIP model")
    assert "Methods that train it: ce, msta, open_mede, open_vclip, taco" in last  # plug-ins of other tests follow


def test_frozen_text_is_xclips_recipe_and_its_new_modules_take_ten_times_the_learning_rate(xclip_dir, videos,
                                                                                            tmp_path):
    trainer = build(xclip_dir, videos, tmp_path, adaptation="frozen_text")
    optimizer = trainer.create_optimizer()
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    names = dict(trainer.model.named_parameters())
    assert not any(id(p) in rate for n, p in names.items() if ".text_model." in n or "text_projection" in n)
    fast = [n for n, p in names.items() if any(k in n for k in ("prompts_", ".mit.", "message_"))]
    assert fast and all(rate[id(names[n])] == pytest.approx(1e-2) for n in fast)
    assert rate[id(names["student.xclip.vision_model.encoder.layers.0.self_attn.q_proj.weight"])] == 1e-3
    trainer.train()  # the cached class texts get each video's prompt, which trains


@torch.no_grad()
def test_lora_adapts_xclips_linear_layers_and_merges_at_export(xclip_dir, videos, tmp_path, tokenizer):
    trainer = build(xclip_dir, videos, tmp_path, adaptation="lora", lora_target_modules="q_proj,v_proj")
    lora = [n for n, p in trainer.model.named_parameters() if "lora_" in n and p.requires_grad]
    assert any(".mit." in n for n in lora) and any("prompts_generator" in n for n in lora)
    with torch.enable_grad():
        trainer.train()
    trainer.save_model(str(tmp_path / "export"))
    exported = AutoModel.from_pretrained(tmp_path / "export").eval()
    assert type(exported) is VideoXClipModel and not any("lora_" in n for n, _ in exported.named_parameters())
    ids, mask = class_ids(tokenizer)
    student = trainer.model.student.eval()  # the PeftModel, adapters on
    expected = student(input_ids=ids, pixel_values_videos=clips(), attention_mask=mask).logits_per_video
    got = exported(input_ids=ids, pixel_values_videos=clips(), attention_mask=mask).logits_per_video
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("method, overrides", [
    ("open_vclip", {"patch_alpha": 0.5}),  # interpolated weights through functional_call, export-time patching
    ("msta", {"adaptation": "lora", "lora_target_modules": "q_proj,v_proj"}),  # frozen branch: LoRA disabled
])
def test_the_other_methods_that_need_nothing_more_train_and_export(xclip_dir, videos, tmp_path, method, overrides):
    trainer = build(xclip_dir, videos, tmp_path, method, **overrides)
    trainer.train()
    trainer.save_model(str(tmp_path / "export"))
    assert type(AutoModel.from_pretrained(tmp_path / "export")) is VideoXClipModel


def test_activation_checkpointing_runs_through_xclips_layers(xclip_dir, videos, tmp_path):
    trainer = build(xclip_dir, videos, tmp_path, gradient_checkpointing=True)
    trainer.train()
    assert trainer.state.log_history[-1]["train_loss"] > 0


def test_the_model_card_describes_the_xclip_backbone(xclip_dir, tmp_path):
    from hfvideoclip.hub.model_card import build_model_card

    VideoXClipModel.from_xclip(xclip_dir).save_pretrained(tmp_path)
    card = build_model_card(method="ce", run_dir=str(tmp_path)).text
    assert "**Backbone:** X-CLIP ViT vision tower (width 32, 2 layers" in card
    assert "`temporal_mode=xclip`, X-CLIP (transformers' `XCLIPModel`): cross-frame communication tokens" in card
    assert "`frame_pooling=mit`: X-CLIP's multi-frame integration transformer" in card
