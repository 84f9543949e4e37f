"""VideoClipTrainer on a tiny random CLIP and 8 generated mp4 videos: every method steps, loss terms are logged,
teachers behave, exports load with AutoModel, and stopping + resuming equals training straight through."""

import json
import math

import pytest
import torch
from transformers import AutoModel, TrainerCallback

import hfvideoclip  # noqa: F401
from hfvideoclip import VideoClipModel
from hfvideoclip.training.builder import build_trainer
from hfvideoclip.training.recipe import parse_args


@pytest.fixture
def build(make_args):
    def build(tmp_path, method, clip_dir, dataset, eval_dataset=None, **overrides):
        args, config = make_args(tmp_path, method, **overrides)
        return build_trainer(args, clip_dir, dataset, eval_dataset, method_config=config)
    return build


def student_state(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.student.state_dict().items()}


METHODS = ["ce", "open_vclip", "froster", "taco", "open_mede"]


@pytest.mark.parametrize("method", METHODS)
def test_method_trains_logs_its_terms_and_exports(clip_dir, dataset, tmp_path, method, build):
    trainer = build(tmp_path, method, clip_dir, dataset,
                    adaptation="frozen_text" if method == "open_vclip" else "full",
                    patch_alpha=0.5 if method == "open_vclip" else None,
                    **({"gwa": True} if method == "open_mede" else {}))
    before = student_state(trainer)
    trainer.train()
    after = student_state(trainer)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, f"{method}: no student weight moved"
    logged = {k for entry in trainer.state.log_history for k in entry}
    expected_terms = {"ce": {"ce"}, "open_vclip": {"ce", "interpolated_ce"}, "froster": {"ce", "distill_vision",
                      "distill_text"}, "taco": {"ce", "rsd"}, "open_mede": {"support_ce", "query_ce"}}[method]
    assert expected_terms <= logged, logged
    trainer.save_model(str(tmp_path / "export"))
    exported = AutoModel.from_pretrained(tmp_path / "export")
    assert isinstance(exported, VideoClipModel)
    assert not any(k.startswith(("heads", "ema_teacher", "student")) for k in exported.state_dict())
    assert (tmp_path / "export" / "video_preprocessor_config.json").exists()
    # scored as the method's official code scores (issue 24): Open-VCLIP's lineage averages per-frame logits
    official = ("logits", "logits") if method in ("open_vclip", "froster", "open_mede") else ("features", "probabilities")
    assert (exported.config.frame_pooling, exported.config.view_pooling) == official


def test_pooling_flags_override_the_methods_default(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "froster", clip_dir, dataset, frame_pooling="features", view_pooling="probabilities")
    config = trainer.model.student.config
    assert (config.frame_pooling, config.view_pooling) == ("features", "probabilities")
    trainer = build(tmp_path, "taco", clip_dir, dataset, temporal_mode="vclip")
    assert (trainer.model.student.config.frame_pooling, trainer.model.student.config.view_pooling) == (
        "features", "probabilities")  # the method decides, not the backbone
    with pytest.raises(ValueError, match="--frame_pooling"):
        build(tmp_path, "ce", clip_dir, dataset, frame_pooling="max")


def test_froster_teacher_never_changes_and_is_not_optimised(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "froster", clip_dir, dataset)
    teacher = trainer.model.frozen_teacher
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    trainer.train()
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in optimised for p in teacher.parameters())
    assert not any(k.startswith("frozen_teacher") for k in trainer.model.state_dict())
    # projector heads train with their own learning rate (10x by default)
    heads = {id(p) for p in trainer.model.heads.parameters()}
    head_lrs = {g["initial_lr"] for g in trainer.optimizer.param_groups if id(g["params"][0]) in heads}
    student_lrs = {g["initial_lr"] for g in trainer.optimizer.param_groups if id(g["params"][0]) not in heads}
    assert sorted(head_lrs) == pytest.approx([1e-2]) and sorted(student_lrs) == pytest.approx([1e-3])


def test_taco_ema_teacher_follows_the_formula(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "taco", clip_dir, dataset, max_steps=1)
    objective = trainer.model
    teacher0 = {k: v.clone() for k, v in objective.ema_teacher.state_dict().items()}
    trainer.train()
    student = objective.student.state_dict()
    for name, value in objective.ema_teacher.named_parameters():
        expected = 0.9 * teacher0[name] + 0.1 * student[name]
        torch.testing.assert_close(value, expected, atol=1e-6, rtol=1e-5)
    assert not any(p.requires_grad for p in objective.ema_teacher.parameters())
    exported_dir = tmp_path / "export"
    trainer.save_model(str(exported_dir))
    keys = AutoModel.from_pretrained(exported_dir).state_dict().keys()
    assert not any("specialization" in k for k in keys)


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True


@pytest.mark.parametrize("method", ["taco"])  # every method: tests/training/test_method_battery.py
def test_stop_and_resume_equals_straight_training(clip_dir, dataset, tmp_path, method, build):
    extra = dict(adaptation="frozen_text" if method == "open_vclip" else "full",
                 **({"gwa": True} if method == "open_mede" else {}))
    straight = build(tmp_path / "a", method, clip_dir, dataset, **extra)
    straight.train()
    expected = student_state(straight)

    first = build(tmp_path / "b", method, clip_dir, dataset, **extra)
    first.add_callback(StopAt(2))
    first.train()
    assert first.state.global_step == 2
    second = build(tmp_path / "b", method, clip_dir, dataset, **extra)
    second.train(resume_from_checkpoint=str(tmp_path / "b" / "checkpoint-2"))
    resumed = student_state(second)
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], atol=1e-6, rtol=0, msg=f"{method}: {key}")
    if method == "taco":
        for (name, a), b in zip(straight.model.ema_teacher.state_dict().items(),
                                second.model.ema_teacher.state_dict().values()):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)


def test_lora_adaptation_composes_with_taco_and_open_mede(clip_dir, dataset, tmp_path, build):
    for method in ("taco", "open_mede"):
        trainer = build(tmp_path / method, method, clip_dir, dataset, adaptation="lora", max_steps=2)
        trainable = [n for n, p in trainer.model.student.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable)
        trainer.train()
        trainer.save_model(str(tmp_path / method / "export"))
        exported = AutoModel.from_pretrained(tmp_path / method / "export")
        assert not any("lora" in k for k in exported.state_dict())


def test_logged_loss_is_not_scaled_by_gradient_accumulation(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ce", clip_dir, dataset, max_steps=1, gradient_accumulation_steps=2,
                    per_device_train_batch_size=2, learning_rate=0.0)
    trainer.train()
    logged = next(e["loss"] for e in trainer.state.log_history if "loss" in e)
    ce = next(e["ce"] for e in trainer.state.log_history if "ce" in e)
    assert logged == pytest.approx(ce, rel=1e-4)
    assert 0.1 < logged < 3 * math.log(2)


def test_preset_and_flags(tmp_path):
    script, args, config = parse_args(["--method", "taco", "--output_dir", str(tmp_path), "--rsd_weight", "0.7"])
    assert args.method == "taco" and config.rsd_weight == 0.7 and args.weight_decay == 0.2
    assert config.num_anchors == 200 and script.protocol == "toy-b2n"
    assert not hasattr(args, "rsd_weight")  # a method's flags live in its own config
    with pytest.raises(ValueError, match="--method 'nope'"):
        parse_args(["--method", "nope", "--output_dir", str(tmp_path)])
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: ce\nnot_a_field: 1\n")
    with pytest.raises(ValueError, match="not_a_field"):
        parse_args(["--config", str(bad), "--output_dir", str(tmp_path)])


def test_vclip_edge_flag_builds_the_student_with_it(clip_dir, dataset, tmp_path, build, make_args):
    trainer = build(tmp_path, "froster", clip_dir, dataset, vclip_edge="mask")
    assert trainer.model.student.config.vclip_edge == "mask"
    assert build(tmp_path / "zero", "froster", clip_dir, dataset).model.student.config.vclip_edge == "zero"
    with pytest.raises(ValueError, match="--vclip_edge must be 'zero' or 'mask'"):
        make_args(tmp_path, "froster", vclip_edge="pad")


def test_bad_description_file_names_the_file_and_the_fix(clip_dir, dataset, tmp_path, build):
    path = tmp_path / "descriptions.json"
    path.write_text(json.dumps({"0": "Red circle moving left: a red disc slides left"}))
    with pytest.raises(ValueError, match=r"descriptions.json: no entry for class 'blue square moving right'"):
        build(tmp_path, "froster", clip_dir, dataset, description_file=str(path))


def test_trainer_evaluate_scores_each_vocabulary(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ce", clip_dir, dataset, max_steps=1, eval_dataset={"base": dataset, "novel": dataset})
    metrics = trainer.evaluate()
    assert set(metrics) >= {"eval_base_top1", "eval_novel_top1", "eval_hm", "eval_base_top5"}
    assert metrics["eval_base_top1"] == metrics["eval_novel_top1"]
    expected_hm = metrics["eval_base_top1"]  # equal base and novel: the harmonic mean is the same number
    assert metrics["eval_hm"] == pytest.approx(expected_hm)
    assert metrics["eval_base_top5"] == 1.0  # two classes: top-5 always contains the label


def test_flip_is_off_for_direction_classes_and_can_be_forced(clip_dir, dataset, tmp_path, build, make_args):
    from hfvideoclip.training.trainer import flip_preserves_labels

    assert not flip_preserves_labels(["a circle moving left", "a star rotating"])
    assert not flip_preserves_labels(["Swiping Right"])
    assert flip_preserves_labels(["archery", "a bright star", "playing cricket"])  # "bright" is not "right"
    assert build(tmp_path, "ce", clip_dir, dataset).flip is False  # classes say left/right
    forced = build(tmp_path, "ce", clip_dir, dataset, horizontal_flip=True)
    assert forced.flip is True and forced.data_collator.augmentation.horizontal_flip == 0.5
    assert build(tmp_path, "ce", clip_dir, dataset, augment=False).data_collator.augmentation is None
    with pytest.raises(ValueError, match="crop_min_area"):
        make_args(tmp_path, "ce", crop_min_area=0.0)


def test_taco_default_temperature_uses_the_models_logit_scale(clip_dir, dataset, tmp_path, build):
    from hfvideoclip.methods.taco.loss import default_temperature

    trainer = build(tmp_path, "taco", clip_dir, dataset)
    scale = trainer.model.student.logit_scale.exp().item()  # CLIPConfig's init: exp(2.6592) ~ 14.3
    assert trainer.model.temperature == pytest.approx((200 + 0.025 * scale**2) / 16 / scale)  # (M + kappa)/(D s)
    assert trainer.model.temperature == pytest.approx(default_temperature(200, 16, scale))
    explicit = build(tmp_path, "taco", clip_dir, dataset, rsd_temperature=0.5)
    assert explicit.model.temperature == 0.5


@pytest.mark.parametrize("method", ["ce", "froster", "taco"])
def test_bf16_runs_collate_bf16_pixels_with_identical_training(clip_dir, dataset, tmp_path, build, method):
    """Under bf16 autocast the patch embedding casts its input to bf16 anyway: collating bf16 pixels (half the
    bytes through workers and to the device) must train to exactly the weights float32 pixels give."""
    runs = []
    for pixel_dtype in (torch.bfloat16, torch.float32):
        trainer = build(tmp_path / str(pixel_dtype), method, clip_dir, dataset, bf16=True, max_steps=2)
        assert trainer.data_collator.pixel_dtype == torch.bfloat16
        batch = trainer.data_collator([dataset[0], dataset[1]])
        assert batch["pixel_values_videos"].dtype == torch.bfloat16
        trainer.data_collator.pixel_dtype = pixel_dtype
        trainer.train()
        runs.append(student_state(trainer))
    for key, value in runs[0].items():
        torch.testing.assert_close(value, runs[1][key], atol=0, rtol=0, msg=f"{method}: {key}")
