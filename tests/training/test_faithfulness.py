"""Each method held to what its official code computes (FROSTER's prompt recipe and projector inputs, Open-VCLIP's SWA
window), the logit scale trained like CLIP's, Open-MeDe under mixed precision, weight-space operations with LoRA,
and TACO's teacher kept in eval mode and float32."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import hfvideoclip  # noqa: F401
from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.methods import step_generator
from hfvideoclip.text.templates import SINGLE_TEMPLATE


def first_batch(trainer):
    batch = next(iter(trainer.get_train_dataloader()))
    return batch["pixel_values_videos"], batch["labels"]


def _unit(x):
    return F.normalize(x.float(), dim=-1)


def test_froster_loss_is_the_official_recipe(clip_dir, dataset, tmp_path, build):
    """Written from Visual-AI/FROSTER (temporalclip_video_model.py, tools/train_net.py): one template index for all
    classes, each class text = normalised mean of normalised [template(name) + ' ' + description] and [description];
    per-frame logits averaged over frames;
    projectors on normalised student features; cosine distillation per frame and per class; CE + 2 * distill."""
    names = dataset.features["label"].names
    descriptions = {"0": f"{names[0]}: a red circle", "1": f"{names[1]}: a blue square"}
    (tmp_path / "desc.json").write_text(json.dumps(descriptions))
    trainer = build(tmp_path, "froster", clip_dir, dataset, augment=False, templates="single",
                    description_file=str(tmp_path / "desc.json"))
    objective = trainer.model
    torch.manual_seed(3)
    for projector in objective.heads.values():  # leave the identity start: give the projectors real weights
        for param in projector.parameters():
            param.data.normal_(0, 0.3)
    pixels, labels = first_batch(trainer)
    objective.step = 5
    got = objective(pixels, labels)

    index = int(torch.randint(len(SINGLE_TEMPLATE), (), generator=step_generator(7, 5, 1)))
    prompts_a = [SINGLE_TEMPLATE[index].format(n) + " " + descriptions[str(i)] for i, n in enumerate(names)]
    prompts_b = [descriptions[str(i)] for i in range(len(names))]
    tokenizer = VideoClipProcessor.from_pretrained(clip_dir).tokenizer

    def class_texts(model):
        embeds = []
        for prompts in (prompts_a, prompts_b):
            tokens = tokenizer(prompts, padding=True, return_tensors="pt")
            embeds.append(_unit(model.get_text_features(tokens["input_ids"], tokens["attention_mask"])))
        return _unit(torch.stack(embeds).mean(0))

    student = objective.student
    text = class_texts(student)
    video, frames = student.get_video_features(pixels, return_frame_embeds=True)
    # pred = logit_scale.exp() * img_encode @ classifier.T per frame, then pred.reshape(bz, clip_len, -1).mean(1)
    ce = F.cross_entropy((student.logit_scale.exp() * _unit(frames) @ text.t()).mean(1), labels)
    teacher = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4).eval()  # the frozen CLIP
    with torch.no_grad():
        teacher_frames = _unit(teacher.get_frame_features(pixels))
        teacher_text = class_texts(teacher)
    vision = (1 - F.cosine_similarity(objective.heads["vision_projector"](_unit(frames)), teacher_frames, -1)).mean()
    text_term = (1 - F.cosine_similarity(objective.heads["text_projector"](text), teacher_text, -1)).mean()
    expected = ce + 2.0 * (vision + text_term)
    assert got["loss"].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
    assert got["distill_vision"].item() == pytest.approx(vision.item(), rel=1e-5, abs=1e-6)
    assert got["distill_text"].item() == pytest.approx(text_term.item(), rel=1e-5, abs=1e-6)


def test_froster_preset_trains_projectors_at_the_backbone_rate():
    from hfvideoclip.training.recipe import parse_args

    args = parse_args(["--method", "froster", "--output_dir", "unused"]).training
    assert args.projection_learning_rate == args.learning_rate


def test_open_vclip_swa_averages_from_epoch_two(clip_dir, dataset, tmp_path, build):
    from hfvideoclip.methods.common.averaging_callbacks import EpochAveragingCallback

    trainer = build(tmp_path, "open_vclip", clip_dir, dataset, adaptation="frozen_text", swa=True)
    averaging = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, EpochAveragingCallback)]
    assert len(averaging) == 1 and averaging[0].start_epoch == 2  # wa_start = 2 in the official code


def test_logit_scale_trains_and_stays_bounded(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ce", clip_dir, dataset, max_steps=3, learning_rate=0.5, augment=False)
    student = trainer.model.student
    with torch.no_grad():
        student.logit_scale.fill_(math.log(100.0))  # OpenAI CLIP's value
    pixels, labels = first_batch(trainer)
    trainer.model.zero_grad()
    trainer.model(pixels, labels)["loss"].backward()
    assert student.logit_scale.grad.abs() > 0  # a clamp inside the graph would make this 0
    trainer.train()
    assert student.logit_scale.item() <= math.log(100.0) + 1e-6


def test_open_mede_runs_under_bf16_autocast_and_matches_fp32(clip_dir, dataset, tmp_path, build):
    grads = {}
    for precision in ("fp32", "bf16"):
        trainer = build(tmp_path / precision, "open_mede", clip_dir, dataset, augment=False,
                        bf16=precision == "bf16")
        objective = trainer.model
        seen = []
        layer = objective.student.vision_model.encoder.layers[0].mlp.fc1
        handle = layer.register_forward_hook(lambda module, inputs, output, seen=seen: seen.append(output.dtype))
        batch = next(iter(trainer.get_train_dataloader()))
        trainer.create_optimizer_and_scheduler(num_training_steps=1)
        trainer.training_step(trainer.model, batch)
        handle.remove()
        assert seen and set(seen) == {torch.bfloat16 if precision == "bf16" else torch.float32}
        grads[precision] = torch.cat([p.grad.flatten() for p in objective.student.parameters()
                                      if p.grad is not None])
    assert grads["fp32"].shape == grads["bf16"].shape
    assert F.cosine_similarity(grads["fp32"], grads["bf16"], dim=0) > 0.98
    assert (grads["bf16"].norm() / grads["fp32"].norm()).item() == pytest.approx(1.0, rel=0.05)


def test_open_mede_splits_the_batch_into_tasks_and_sums_their_gradients(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "open_mede", clip_dir, dataset, augment=False, meta_tasks=2, meta_inner_lr=1e-3)
    objective = trainer.model
    pixels, labels = first_batch(trainer)
    expected = {}
    for task_pixels, task_labels in zip(pixels.chunk(2), labels.chunk(2)):
        result = objective.meta_step(task_pixels, task_labels, alpha=1e-3, delta=objective.config.meta_query_weight)
        for name, grad in result.gradients.items():
            expected[name] = expected.get(name, 0) + grad
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    objective.zero_grad()
    trainer.training_step(trainer.model, {"pixel_values_videos": pixels, "labels": labels})
    for name, param in objective.student.named_parameters():
        torch.testing.assert_close(param.grad, expected[name], atol=1e-6, rtol=1e-5, msg=name)


def test_lora_refuses_weight_averaging_and_interpolation(clip_dir, dataset, tmp_path, build):
    with pytest.raises(ValueError, match="--adaptation lora cannot be combined with --method open_vclip"):
        build(tmp_path, "open_vclip", clip_dir, dataset, adaptation="lora")
    with pytest.raises(ValueError, match="GaussianWeightAveragingCallback"):
        build(tmp_path, "open_mede", clip_dir, dataset, adaptation="lora", gwa=True)
    with pytest.raises(ValueError, match="EpochAveragingCallback"):
        build(tmp_path, "froster", clip_dir, dataset, adaptation="lora", average_start_epoch=1, average_end_epoch=2)


def test_lora_patching_acts_on_merged_weights(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ce", clip_dir, dataset, adaptation="lora", patch_alpha=0.25, max_steps=2,
                    learning_rate=0.05)
    trainer.train()
    import copy

    merged = copy.deepcopy(trainer.model.student).merge_and_unload().state_dict()
    zero_shot = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4).state_dict()
    trainer.save_model(str(tmp_path / "export"))
    exported = load_file(tmp_path / "export" / "model.safetensors")
    changed = [k for k in merged if "q_proj.weight" in k and not torch.equal(merged[k], zero_shot[k])]
    assert changed  # LoRA moved the merged weights
    for key in changed:
        torch.testing.assert_close(exported[key], 0.25 * merged[key] + 0.75 * zero_shot[key], atol=1e-6, rtol=1e-5)


def test_taco_teacher_stays_in_eval_mode_and_float32(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "taco", clip_dir, dataset, max_steps=1)
    trainer.model.train()
    assert not trainer.model.ema_teacher.training and trainer.model.student.training
    from hfvideoclip.methods.taco.loss import ema_update_

    student = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=4).to(torch.bfloat16)
    teacher = trainer.model.ema_teacher  # float32 copy
    assert all(p.dtype == torch.float32 for p in teacher.parameters())
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.5)
    before = teacher.visual_projection.weight.detach().clone()
    for _ in range(10):
        ema_update_(teacher, student, 0.9998)
    moved = (teacher.visual_projection.weight - before).abs().mean().item()
    assert moved > 0.5 * 10 * 2e-4 * 0.5  # the small steps accumulate in float32 (bf16 would round them away)


def test_single_template_sampling_is_one_index_for_all_classes(clip_dir):
    from hfvideoclip.text.class_texts import ClassTexts
    from hfvideoclip.text.templates import KINETICS_TEMPLATES

    tokenizer = VideoClipProcessor.from_pretrained(clip_dir).tokenizer
    texts = ClassTexts(tokenizer, ["red circle moving left", "blue square moving right"], KINETICS_TEMPLATES)
    ids, _ = texts.sample(torch.Generator().manual_seed(0))
    rows = [[torch.equal(ids[c], texts.input_ids[c, k]) for k in range(len(KINETICS_TEMPLATES))] for c in range(2)]
    chosen = [row.index(True) for row in rows]
    assert chosen[0] == chosen[1]
    ids, _ = texts.sample(torch.Generator().manual_seed(0), with_bare=True)
    assert ids.shape[:2] == (2, 2) and torch.equal(ids[:, 1], texts.bare_input_ids)
    assert SINGLE_TEMPLATE == ("a video of {}.",)
