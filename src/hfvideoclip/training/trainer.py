"""`VideoClipTrainer`: a `transformers.Trainer` for open-vocabulary video objectives.

`compute_loss` runs `VideoClipObjectiveModel` (one method per objective module), logs every loss term apart,
and Open-MeDe's meta step replaces the ordinary backward in `training_step`. Evaluation scores each eval dataset
against its own class vocabulary with the evaluation harness.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict

import torch
from transformers import Trainer, TrainerCallback
from transformers.utils import logging

from ..data import transforms as T
from .arguments import VideoClipTrainingArguments
from .objective_model import VideoClipObjectiveModel, step_generator

logger = logging.get_logger(__name__)


def _class_names(dataset) -> list[str]:
    """`dataset.features["label"].names`, or [] for a dataset without a ClassLabel."""
    feature = getattr(dataset, "features", None) or {}
    return list(getattr(feature.get("label"), "names", None) or [])


class VideoClassificationCollator:
    """Rows `{"video": path, "label": int}` -> `pixel_values_videos` (B, T, 3, S, S) and `labels` (B,).

    Decoding is deterministic (segment centres, centre crop); the random augmentation happens in the trainer
    with a generator seeded by (seed, step), so a resumed run replays it exactly.
    """

    def __init__(self, video_processor):
        self.video_processor = video_processor

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        videos = [row["video"] for row in rows]
        pixels = self.video_processor(videos, num_clips=1, num_crops=1)
        return {"pixel_values_videos": pixels, "labels": torch.tensor([int(row["label"]) for row in rows])}


def augment_videos(pixels: torch.Tensor, generator: torch.Generator, *, flip: bool = True,
                   min_area: float = 0.4) -> torch.Tensor:
    """Per video: random resized crop (area fraction min_area-1, ratio 3/4-4/3) back to the same size and, if
    `flip`, a horizontal flip with p = 0.5, identical for all frames of a clip. pixels: (B, T, 3, S, S)."""
    size = pixels.shape[-1]
    out = []
    for video in pixels:
        video = T.random_resized_crop(video, size, scale=(min_area, 1.0), generator=generator)
        out.append(T.random_horizontal_flip(video, 0.5, generator=generator) if flip else video)
    return torch.stack(out)


_MIRRORED_WORDS = re.compile(r"\b(left|right|leftward|rightward|clockwise|anticlockwise|counterclockwise)\b",
                             re.IGNORECASE)


def flip_preserves_labels(class_names) -> bool:
    """Whether a horizontal flip keeps every class: False when a class name is direction-sensitive ("moving
    left", "swiping right", "turning clockwise"), where a mirrored video belongs to another class."""
    return not any(_MIRRORED_WORDS.search(str(name)) for name in class_names)


class EmaTeacherUpdate(TrainerCallback):
    """After every optimizer step: teacher <- m * teacher + (1 - m) * student (TACO). `model` given to callbacks
    is the Trainer's unwrapped `VideoClipObjectiveModel`."""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None and hasattr(model, "update_ema_teacher"):
            model.update_ema_teacher()


class VideoClipTrainer(Trainer):
    """Trainer over a `VideoClipObjectiveModel`. Extra arguments: `eval_vocabularies` is not needed: every eval
    dataset carries its class names in `features["label"].names`."""

    def __init__(self, model: VideoClipObjectiveModel, args: VideoClipTrainingArguments, processor=None,
                 export_hook=None, **kwargs):
        kwargs.setdefault("data_collator", VideoClassificationCollator(processor.video_processor))
        super().__init__(model=model, args=args, processing_class=processor, **kwargs)
        self.processor = processor
        self.export_hook = export_hook
        self._term_sums: dict[str, float] = defaultdict(float)
        self._term_count = 0
        if args.method == "taco":
            self.add_callback(EmaTeacherUpdate())
        self.flip = args.horizontal_flip
        if self.flip is None:
            names = _class_names(self.train_dataset)
            self.flip = flip_preserves_labels(names)
            if not self.flip:
                logger.info("Horizontal flip augmentation is off: class names name a direction (e.g. %r); pass "
                            "--horizontal_flip true to force it.", next(n for n in names if _MIRRORED_WORDS.search(n)))

    # ------------------------------------------------------------------ optimisation
    def create_optimizer(self, model=None):
        """Two learning rates: the student's (`learning_rate`) and the method heads' (`projection_learning_rate`,
        default 10x); no weight decay on biases, norms, embeddings and the logit scale."""
        if self.optimizer is not None:
            return self.optimizer
        objective = self.model
        decay = set(self.get_decay_parameter_names(objective))
        head_lr = self.args.projection_learning_rate or 10.0 * self.args.learning_rate
        groups: dict[tuple, list] = defaultdict(list)
        for name, param in objective.named_parameters():
            if not param.requires_grad:
                continue
            is_head = name.startswith("extras.")
            no_decay = name not in decay or "embedding" in name or "logit_scale" in name
            groups[(is_head, no_decay)].append(param)
        param_groups = []
        for (is_head, no_decay), params in groups.items():
            param_groups.append({"params": params, "weight_decay": 0.0 if no_decay else self.args.weight_decay,
                                 "lr": head_lr if is_head else self.args.learning_rate})
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, objective)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def _objective(self, model) -> VideoClipObjectiveModel:
        return self.accelerator.unwrap_model(model)

    def _prepare_batch(self, model, inputs):
        objective = self._objective(model)
        objective.step = self.state.global_step
        pixels = inputs["pixel_values_videos"]
        if self.args.augment and model.training:
            pixels = augment_videos(pixels, step_generator(self.args.seed, self.state.global_step, 4), flip=self.flip,
                                    min_area=self.args.crop_min_area)
        return objective, pixels, inputs["labels"]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        _, pixels, labels = self._prepare_batch(model, inputs)
        outputs = model(pixel_values_videos=pixels, labels=labels)
        self._record_terms(outputs)
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.args.method != "open_mede":
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        inputs = self._prepare_inputs(inputs)
        objective, pixels, labels = self._prepare_batch(model, inputs)
        alpha = self.args.meta_inner_lr if self.args.meta_inner_lr is not None else self._get_learning_rate()
        result = objective.meta_step(pixels, labels, alpha=alpha, delta=self.args.meta_query_weight)
        gradients = result.gradients
        if self.accelerator.num_processes > 1:  # one all-reduce per meta step
            names = list(gradients)
            flat = torch.cat([gradients[n].flatten() for n in names])
            flat = self.accelerator.reduce(flat, reduction="mean")
            offset = 0
            for name in names:
                numel = gradients[name].numel()
                gradients[name] = flat[offset:offset + numel].view_as(gradients[name])
                offset += numel
        params = dict(objective.student.named_parameters())
        with torch.no_grad():
            for name, grad in gradients.items():
                param = params[name]
                param.grad = grad.to(param.dtype) if param.grad is None else param.grad + grad.to(param.dtype)
        self._record_terms({"support_ce": result.support_loss, "query_ce": result.query_loss})
        return result.support_loss.detach()

    # ------------------------------------------------------------------ logging per term
    def _record_terms(self, outputs: dict) -> None:
        for key, value in outputs.items():
            if key == "loss" or not torch.is_tensor(value) or value.numel() != 1:
                continue
            self._term_sums[key] += float(value.detach().float())
        self._term_count += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self._term_count and "loss" in logs:
            keys = sorted(self._term_sums)
            values = torch.tensor([self._term_sums[k] / self._term_count for k in keys], device=self.args.device)
            if self.accelerator.num_processes > 1:
                values = self.accelerator.reduce(values, reduction="mean")
            logs.update({k: round(float(v), 6) for k, v in zip(keys, values)})
            self._term_sums.clear()
            self._term_count = 0
        super().log(logs, start_time)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        """Open-vocabulary top-1/top-5 of the student on each eval dataset, in its own vocabulary."""
        from ..evaluation.harness import evaluate_dataset
        from ..evaluation.metrics import harmonic_mean, topk_accuracy

        datasets = eval_dataset if eval_dataset is not None else self.eval_dataset
        if datasets is None:
            return {}
        if not isinstance(datasets, dict):
            datasets = {"test": datasets}
        student = self._objective(self.model).student
        was_training = student.training
        student.eval()
        metrics = {}
        for name, dataset in datasets.items():
            output = evaluate_dataset(student, self.processor, dataset, progress=False,
                                      batch_size=self.args.per_device_eval_batch_size)
            metrics[f"{metric_key_prefix}_{name}_top1"] = topk_accuracy(output.scores, output.labels, 1)
            metrics[f"{metric_key_prefix}_{name}_top5"] = topk_accuracy(output.scores, output.labels, 5)
        base, novel = metrics.get(f"{metric_key_prefix}_base_top1"), metrics.get(f"{metric_key_prefix}_novel_top1")
        if base is not None and novel is not None:
            metrics[f"{metric_key_prefix}_hm"] = harmonic_mean(base, novel)
        student.train(was_training)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    # ------------------------------------------------------------------ saving
    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Checkpoints (`_internal_call`) hold the whole objective module (student, heads, EMA teacher), so a
        resumed run continues exactly; a user-facing save exports the student alone as a `VideoClipModel`."""
        if _internal_call or self.export_hook is None:
            return super().save_model(output_dir, _internal_call=_internal_call)
        output_dir = output_dir or self.args.output_dir
        if self.args.should_save:
            os.makedirs(output_dir, exist_ok=True)
            self.export_hook(self._objective(self.model), output_dir)
