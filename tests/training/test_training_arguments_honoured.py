"""TrainingArguments mean what they say in `VideoClipTrainer`: `--label_smoothing_factor` smooths every method's
cross-entropy, evaluation reports `eval_loss` and the user's `compute_metrics`, `load_best_model_at_end` works on
`eval_loss`, and fields the trainer cannot honour are refused with one line."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import hfvideoclip  # noqa: F401
from hfvideoclip.evaluation.harness import evaluate_dataset
from hfvideoclip.training.builder import build_trainer
from hfvideoclip.training.trainer import evaluation_losses

SMOOTHING = 0.1


def batch_of(trainer, dataset, count=4):
    """Pixels of `count` videos, all labelled class 0: with balanced labels on two classes the smoothing term can
    nearly cancel, with one class it cannot."""
    batch = trainer.data_collator([dataset[i] for i in range(count)])
    return batch["pixel_values_videos"], torch.zeros(count, dtype=torch.long)


def spy_logits(objective):
    """Record every `(B, C)` logits tensor the student's scoring head returns (also under `functional_call`)."""
    calls = []
    original = objective.student.compute_logits

    def compute_logits(*args, **kwargs):
        logits = original(*args, **kwargs)
        calls.append(logits.detach().float())
        return logits

    objective.student.compute_logits = compute_logits
    return calls


def assert_smoothed_ce(value, logits, labels):
    expected = F.cross_entropy(logits, labels, label_smoothing=SMOOTHING)
    assert float(value) == pytest.approx(float(expected), rel=1e-5, abs=1e-6)
    assert float(expected) != pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-4)  # smoothing matters


# ------------------------------------------------------------------------------------------------ label smoothing
@pytest.mark.parametrize("method", ["ce", "taco", "froster", "msta"])
def test_classification_term_is_the_smoothed_cross_entropy_of_its_logits(clip_dir, dataset, tmp_path, build,
                                                                         method):
    extra = dict(adaptation="msta", msta_dim=8) if method == "msta" else {}
    trainer = build(tmp_path, method, clip_dir, dataset, label_smoothing_factor=SMOOTHING, **extra)
    objective = trainer.model
    calls = spy_logits(objective)
    pixels, labels = batch_of(trainer, dataset)
    terms = objective(pixels, labels)
    assert len(calls) == 1
    assert_smoothed_ce(terms["ce"], calls[0], labels)


def test_open_vclip_smooths_both_the_ce_and_the_interpolated_ce(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "open_vclip", clip_dir, dataset, adaptation="frozen_text",
                    label_smoothing_factor=SMOOTHING)
    objective = trainer.model
    calls = spy_logits(objective)
    pixels, labels = batch_of(trainer, dataset)
    terms = objective(pixels, labels)
    assert len(calls) == 2  # theta, then the interpolated weights
    assert_smoothed_ce(terms["ce"], calls[0], labels)
    assert_smoothed_ce(terms["interpolated_ce"], calls[1], labels)


def test_open_mede_smooths_the_support_and_query_losses(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "open_mede", clip_dir, dataset, label_smoothing_factor=SMOOTHING)
    objective = trainer.model
    calls = spy_logits(objective)
    pixels, labels = batch_of(trainer, dataset)
    result = objective.meta_step(pixels, labels, alpha=1e-3, delta=1.0)
    assert len(calls) == 2  # support half at theta, query half at the fast weights
    assert_smoothed_ce(result.support_loss, calls[0], labels[:2])
    assert_smoothed_ce(result.query_loss, calls[1], labels[2:])
    calls.clear()
    assert_smoothed_ce(objective(pixels, labels)["ce"], *calls, labels)  # the plain CE it logs outside training


def test_label_smoothing_changes_training_and_is_refused_where_it_cannot_apply(clip_dir, dataset, tmp_path, build,
                                                                               make_args):
    runs = []
    for smoothing in (0.0, 0.9):
        trainer = build(tmp_path / str(smoothing), "ce", clip_dir, dataset, max_steps=2,
                        label_smoothing_factor=smoothing)
        trainer.train()
        runs.append(trainer.model.student.visual_projection.weight.detach().clone())
    assert not torch.allclose(*runs, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match=r"--label_smoothing_factor 0.1 does not apply to --method ost: .*"
                                         r"--target_sharpness"):
        build(tmp_path, "ost", clip_dir, dataset, label_smoothing_factor=SMOOTHING)
    with pytest.raises(ValueError, match=r"--label_smoothing_factor must lie in \[0, 1\]"):
        make_args(tmp_path, "ce", label_smoothing_factor=1.5)


# ------------------------------------------------------------------------------------------------ refused fields
@pytest.mark.parametrize("field, value", [
    ("eval_do_concat_batches", False), ("include_for_metrics", ["inputs"]), ("label_names", ["targets"]),
    ("train_sampling_strategy", "group_by_length"), ("length_column_name", "frames"), ("bf16_full_eval", True),
    ("fp16_full_eval", True), ("neftune_noise_alpha", 5.0), ("include_num_input_tokens_seen", "all"),
])
def test_fields_the_trainer_cannot_honour_are_refused_in_one_line(tmp_path, make_args, field, value):
    with pytest.raises(ValueError, match=rf"^--{field} .* has no effect in hfvideoclip training: [^\n]+$"):
        make_args(tmp_path, "ce", **{field: value})


def test_honoured_values_of_those_fields_pass(tmp_path, make_args):
    args, _ = make_args(tmp_path, "ce", label_names=["labels"], include_for_metrics=["loss"],
                        train_sampling_strategy="sequential", prediction_loss_only=True, batch_eval_metrics=True)
    assert args.label_names == ["labels"]


# ------------------------------------------------------------------------------------------------ evaluation
def test_eval_loss_and_compute_metrics_per_eval_dataset(clip_dir, dataset, tmp_path, build):
    trainer = build(tmp_path, "ce", clip_dir, dataset)
    seen = []

    def compute_metrics(prediction):
        seen.append(prediction)
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    trainer.compute_metrics = compute_metrics
    metrics = trainer.evaluate({"base": dataset, "novel": dataset.select(range(6))})
    assert [p.predictions.shape for p in seen] == [(8, 2), (6, 2)]
    assert [p.label_ids.shape for p in seen] == [(8,), (6,)]
    assert isinstance(seen[0].predictions, np.ndarray) and seen[0].losses is None
    assert metrics["eval_base_accuracy"] == pytest.approx(metrics["eval_base_top1"])
    assert metrics["eval_novel_accuracy"] == pytest.approx(metrics["eval_novel_top1"])
    output = evaluate_dataset(trainer.model.student, trainer.processor, dataset, progress=False, batch_size=8)
    expected = F.cross_entropy(output.logits, output.labels).item()
    assert metrics["eval_base_loss"] == pytest.approx(expected, rel=1e-5)
    assert metrics["eval_loss"] == pytest.approx((metrics["eval_base_loss"] + metrics["eval_novel_loss"]) / 2)
    assert {"eval_hm", "eval_base_runtime"} <= set(metrics)
    assert trainer.state.log_history[-1]["eval_loss"] == metrics["eval_loss"]

    single = trainer.evaluate(dataset)
    assert single["eval_loss"] == pytest.approx(expected, rel=1e-5)
    assert single["eval_accuracy"] == pytest.approx(single["eval_top1"])
    assert evaluation_losses(output)[1].shape == (8,)


def test_compute_metrics_follows_the_evaluation_flags(clip_dir, dataset, tmp_path, build):
    calls = []

    def compute_metrics(prediction, compute_result=None):
        calls.append((prediction, compute_result))
        return {"n": len(prediction.label_ids)}

    trainer = build(tmp_path / "loss_only", "ce", clip_dir, dataset, prediction_loss_only=True)
    trainer.compute_metrics = compute_metrics
    metrics = trainer.evaluate(dataset)
    assert not calls and "eval_loss" in metrics and "eval_n" not in metrics

    trainer = build(tmp_path / "batched", "ce", clip_dir, dataset, batch_eval_metrics=True,
                    include_for_metrics=["loss"])
    trainer.compute_metrics = compute_metrics
    trainer.preprocess_logits_for_metrics = lambda logits, labels: logits[:, :1]
    metrics = trainer.evaluate(dataset)
    (prediction, compute_result), = calls
    assert compute_result is True and metrics["eval_n"] == 8
    assert prediction.predictions.shape == (8, 1)
    assert prediction.losses.shape == (8,) and prediction.losses.mean() == pytest.approx(metrics["eval_loss"],
                                                                                            rel=1e-5)


def test_load_best_model_at_end_on_eval_loss(clip_dir, dataset, tmp_path, make_args):
    args, config = make_args(tmp_path, "ce", max_steps=4, eval_strategy="steps", eval_steps=2, save_strategy="steps",
                             save_steps=2, load_best_model_at_end=True, metric_for_best_model="eval_loss",
                             learning_rate=1e-2)
    trainer = build_trainer(args, clip_dir, dataset, {"base": dataset}, method_config=config)
    trainer.train()
    losses = {e["step"]: e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e}
    assert sorted(losses) == [2, 4]
    best_step = min(losses, key=losses.get)
    assert trainer.state.best_metric == pytest.approx(losses[best_step])
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best_step}")
