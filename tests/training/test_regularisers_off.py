"""Each method's regulariser set to zero leaves plain cross-entropy fine-tuning: the same student weights after a
few steps of the same seed as `ce` on the same backbone, adaptation and class texts. This is the ablation that
tells a faulty implementation from a toy-world limitation: whatever a method gains or loses against `ce` comes
from its regulariser alone."""

import pytest
import torch

import hfvideoclip  # noqa: F401


def trained_student(trainer) -> dict[str, torch.Tensor]:
    trainer.train()
    return {name: param.detach().clone() for name, param in trainer.model.student.named_parameters()}


def assert_same_weights(actual: dict, expected: dict, start: dict) -> None:
    assert actual.keys() == expected.keys()
    moved = [name for name in expected if not torch.equal(expected[name], start[name])]
    assert len(moved) > len(expected) // 2, "ce barely trained: the comparison would prove nothing"
    for name in expected:
        if name.endswith("k_proj.bias"):
            # its true gradient is 0 (softmax ignores a shift shared by every key); Adam scales the rounding noise
            # left in its place up to full-size steps, whose signs depend on summation order
            continue
        torch.testing.assert_close(actual[name], expected[name], atol=1e-6, rtol=1e-5, msg=name)


def starting_weights(trainer) -> dict[str, torch.Tensor]:
    return {name: param.detach().clone() for name, param in trainer.model.student.named_parameters()}


@pytest.mark.parametrize("method, overrides, ce_overrides", [
    ("open_vclip", dict(interpolation_weight=0.0, swa=False, adaptation="frozen_text"),
     dict(temporal_mode="vclip", adaptation="frozen_text", frame_pooling="logits")),
    ("taco", dict(rsd_weight=0.0, specialization_projection=False), dict(temporal_mode="mean")),
])
def test_regulariser_at_zero_trains_like_ce(clip_dir, dataset, tmp_path, build, method, overrides, ce_overrides):
    reference = build(tmp_path / "ce", "ce", clip_dir, dataset, augment=False, max_steps=4, **ce_overrides)
    start = starting_weights(reference)
    expected = trained_student(reference)
    trainer = build(tmp_path / method, method, clip_dir, dataset, augment=False, max_steps=4, **overrides)
    assert trainer.model.student.config.temporal_mode == reference.model.student.config.temporal_mode
    assert_same_weights(trained_student(trainer), expected, start)


def test_regulariser_at_full_weight_does_not_train_like_ce(clip_dir, dataset, tmp_path, build):
    """The converse, so the test above can fail: TACO's RSD term at its paper weight moves the student elsewhere."""
    reference = build(tmp_path / "ce", "ce", clip_dir, dataset, augment=False, max_steps=4)
    expected = trained_student(reference)
    trainer = build(tmp_path / "taco", "taco", clip_dir, dataset, augment=False, max_steps=4,
                    specialization_projection=False, rsd_weight=5.0)
    actual = trained_student(trainer)
    assert any(not torch.allclose(actual[n], expected[n], atol=1e-5) for n in expected)


def test_froster_without_distillation_is_ce_on_froster_prompts(clip_dir, dataset, tmp_path, build):
    """FROSTER's CE term uses its own class texts (one template index for all classes, averaged with the bare
    prompt): with beta = 0 it trains as `ce` does when given those texts."""
    reference = build(tmp_path / "ce", "ce", clip_dir, dataset, augment=False, max_steps=4, temporal_mode="vclip",
                      frame_pooling="logits")
    objective = reference.model

    def froster_class_texts(generator=None):
        texts = objective.class_texts
        ids, mask = texts.prompts(texts.sample_index(objective.generator(1)), with_bare=True)
        return objective.student.get_class_embeddings(input_ids=ids, attention_mask=mask)

    objective.class_embeddings = froster_class_texts
    start = starting_weights(reference)
    expected = trained_student(reference)
    trainer = build(tmp_path / "froster", "froster", clip_dir, dataset, augment=False, max_steps=4,
                    distillation_weight=0.0)
    assert_same_weights(trained_student(trainer), expected, start)


def test_open_mede_without_query_is_ce_on_the_support_clips(clip_dir, dataset, tmp_path, build):
    """delta = 0 and one task: the meta step's gradient is the plain CE gradient of the support half."""
    trainer = build(tmp_path / "mede", "open_mede", clip_dir, dataset, augment=False, meta_tasks=1,
                    meta_query_weight=0.0, gwa=False)
    reference = build(tmp_path / "ce", "ce", clip_dir, dataset, augment=False, temporal_mode="vclip",
                      frame_pooling="logits")
    batch = next(iter(trainer.get_train_dataloader()))
    pixels, labels = batch["pixel_values_videos"], batch["labels"]
    half = pixels.shape[0] // 2
    ce = reference.model
    ce.zero_grad()
    ce.loss(pixels[:half], labels[:half])["loss"].backward()
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    trainer.model.zero_grad()
    trainer.training_step(trainer.model, batch)
    expected = dict(ce.student.named_parameters())
    checked = 0
    for name, param in trainer.model.student.named_parameters():
        if param.grad is None:
            continue
        torch.testing.assert_close(param.grad, expected[name].grad, atol=1e-6, rtol=1e-5, msg=name)
        checked += 1
    assert checked > 10
