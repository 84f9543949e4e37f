"""`VideoClipTrainer`: a `transformers.Trainer` over a method's `Objective` module.

`compute_loss` runs the objective and logs every named term apart (averaged across processes at each log); an
objective with a custom training step (Open-MeDe's meta step) replaces the ordinary backward. Evaluation scores
each eval dataset against its own class vocabulary with the evaluation harness and reports accuracy, `eval_loss`
(the cross-entropy of the model's own scores) and the user's `compute_metrics`. The objective's callbacks and the
optimizer-step hook (EMA teachers) are wired here, so nothing outside a method's module names the method.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict

import torch
from transformers import Trainer, TrainerCallback
from transformers.utils import logging

from ..data.augment import AugmentationConfig
from ..data.collator import VideoClipCollator
from ..hub.push import HubPushMixin
from ..methods.base import Objective, base_model
from .arguments import VideoClipTrainingArguments
from .distributed import enable_cpu_fsdp, hold_scalars_as_vectors

logger = logging.get_logger(__name__)


def dataset_class_names(dataset) -> list[str]:
    """`dataset.features["label"].names`, or [] for a dataset without a ClassLabel."""
    feature = getattr(dataset, "features", None) or {}
    return list(getattr(feature.get("label"), "names", None) or [])


_MIRRORED_WORDS = re.compile(r"\b(left|right|leftward|rightward|clockwise|anticlockwise|counterclockwise)\b",
                             re.IGNORECASE)


def flip_preserves_labels(class_names) -> bool:
    """Whether a horizontal flip keeps every class: False when a class name is direction-sensitive ("moving
    left", "swiping right", "turning clockwise"), where a mirrored video belongs to another class."""
    return not any(_MIRRORED_WORDS.search(str(name)) for name in class_names)


def training_augmentation(args: VideoClipTrainingArguments, class_names) -> AugmentationConfig | None:
    """The training clips' augmentation from the shared flags (None with `--augment false`)."""
    if not args.augment:
        return None
    flip = args.horizontal_flip
    if flip is None:
        flip = flip_preserves_labels(class_names)
        if not flip:
            example = next(n for n in class_names if _MIRRORED_WORDS.search(str(n)))
            logger.info("Horizontal flip augmentation is off: class names name a direction (e.g. %r); pass "
                        "--horizontal_flip true to force it.", example)
    return AugmentationConfig(crop_min_area=args.crop_min_area, horizontal_flip=0.5 if flip else 0.0,
                              grayscale=args.grayscale_probability, color_jitter=args.color_jitter_probability)


class _ObjectiveHooks(TrainerCallback):
    """After every optimizer step: bound the student's logit scale (`exp <= 100`, on the parameter as CLIP does),
    then `objective.on_optimizer_step()` (teacher updates), on the unwrapped objective the Trainer hands to
    callbacks. At each epoch begin: tell the collator the epoch (its augmentation seed)."""

    def __init__(self, collator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        if hasattr(self.collator, "set_epoch"):
            self.collator.set_epoch(int(math.floor(round(float(state.epoch or 0.0), 6))))

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None and hasattr(model, "on_optimizer_step"):
            base_model(model.student).clamp_logit_scale_()
            model.on_optimizer_step()


class VideoClipTrainer(HubPushMixin, Trainer):
    """Trainer over an `Objective`. `processor` is the `VideoClipProcessor`; `exporter(objective, output_dir)`
    writes the user-facing model (see `training.export.ModelExporter`)."""

    def __init__(self, model: Objective, args: VideoClipTrainingArguments, processor=None, exporter=None,
                 **kwargs):
        train_dataset = kwargs.get("train_dataset")
        self.augmentation = training_augmentation(args, dataset_class_names(train_dataset))
        collator = kwargs.setdefault("data_collator", VideoClipCollator(
            processor.video_processor, train=self.augmentation is not None, augmentation=self.augmentation,
            seed=args.seed, process_index=args.process_index, bad_video=args.bad_video,
            pixel_dtype=torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else torch.float32))
        super().__init__(model=model, args=args, processing_class=processor, **kwargs)
        self.processor = processor
        self.exporter = exporter
        if self.is_fsdp_enabled and exporter is not None:  # the student's layout, before FSDP shards it
            exporter.keep_structure(model.student)
        if getattr(self.accelerator.state, "is_fsdp2", False):
            hold_scalars_as_vectors(model)
        self._term_sums: dict[str, torch.Tensor] = {}
        self._term_count = 0
        self.skipped_video_paths: set[str] = set()  # training files this process could not decode (--bad_video skip)
        self.add_callback(_ObjectiveHooks(collator))
        if args.torch_compile:
            self._compile_towers()

    def _compile_towers(self) -> None:
        """`--torch_compile`: compile the objective's towers in place (`Objective.compile_towers`) instead of
        letting accelerate wrap the whole objective in one `torch.compile`: a method's step holds host-side
        logic (per-step generators, `functional_call` at other weights, EMA updates, Sinkhorn's data-dependent
        stop) that would break or retrace one big graph, while the towers are where the time goes."""
        from accelerate.utils import DynamoBackend

        dynamo_plugin = getattr(self.accelerator.state, "dynamo_plugin", None)
        if dynamo_plugin is not None:
            dynamo_plugin.backend = DynamoBackend.NO
        kwargs = {"backend": self.args.torch_compile_backend or "inductor"}
        if self.args.torch_compile_mode is not None:
            kwargs["mode"] = self.args.torch_compile_mode
        self.objective.compile_towers(regional=self.args.torch_compile_regional, **kwargs)

    def _build_accelerator_args(self, **kwargs):
        """DDP's `find_unused_parameters` from the objective (`Objective.has_unused_parameters`) where
        `--ddp_find_unused_parameters` is not given: transformers sets it True for any model that is not a
        `PreTrainedModel` (`Trainer._build_accelerator_args`), an extra autograd traversal every step."""
        accelerator_args = super()._build_accelerator_args(**kwargs)
        if self.args.ddp_find_unused_parameters is None:
            for handler in accelerator_args.get("kwargs_handlers") or ():
                if hasattr(handler, "find_unused_parameters"):
                    handler.find_unused_parameters = bool(getattr(self.model, "has_unused_parameters", True))
        return accelerator_args

    def create_accelerator_and_postprocess(self) -> None:
        """As the Trainer's, with an FSDP run on CPU turned to FSDP2 (accelerate leaves it DDP, see
        `training.distributed`)."""
        super().create_accelerator_and_postprocess()
        if enable_cpu_fsdp(self.accelerator, self.args):
            self.is_fsdp_enabled = True

    @property
    def flip(self) -> bool:
        """Whether training clips are mirrored half of the time."""
        return bool(self.augmentation is not None and self.augmentation.horizontal_flip > 0)

    @property
    def objective(self) -> Objective:
        return self.accelerator.unwrap_model(self.model)

    # ------------------------------------------------------------------ optimisation
    def create_optimizer(self, model=None):
        """Two learning rates: the student's (`learning_rate`) and the method heads' (`projection_learning_rate`,
        default 10x), which also the modules a backbone adds to CLIP take (X-CLIP's prompt generator, mit and
        message tokens: `new_module_keywords`, 10x in X-CLIP's recipe); no weight decay on biases, norms, embeddings
        and the logit scale."""
        if self.optimizer is not None:
            return self.optimizer
        objective = self.model
        decay = set(self.get_decay_parameter_names(objective))
        head_lr = self.args.projection_learning_rate or 10.0 * self.args.learning_rate
        new_modules = tuple(getattr(base_model(objective.student), "new_module_keywords", ()))
        groups: dict[tuple, list] = defaultdict(list)
        for name, param in objective.named_parameters():
            if not param.requires_grad:
                continue
            is_head = name.startswith("heads.") or (name.startswith("student.")
                                                    and any(key in name for key in new_modules))
            no_decay = name not in decay or "embedding" in name or "logit_scale" in name
            groups[(is_head, no_decay)].append(param)
        param_groups = [{"params": params, "weight_decay": 0.0 if no_decay else self.args.weight_decay,
                         "lr": head_lr if is_head else self.args.learning_rate}
                        for (is_head, no_decay), params in groups.items()]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, objective)
        optimizer_kwargs.pop("lr", None)
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            self._note_skipped(inputs)
        self.objective.step = self.state.global_step
        outputs = model(pixel_values_videos=inputs["pixel_values_videos"], labels=inputs["labels"])
        self.record_terms(outputs)
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def training_step(self, model, inputs, num_items_in_batch=None):
        objective = self.objective
        if not objective.has_custom_training_step:
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        inputs = self._prepare_inputs(inputs)
        objective.step = self.state.global_step
        self._note_skipped(inputs)
        # The custom step calls the unwrapped objective (no accelerate forward wrapper): autocast explicitly.
        with self.compute_loss_context_manager(), self.accelerator.autocast():
            return objective.custom_training_step(self, model, inputs["pixel_values_videos"], inputs["labels"])

    @property
    def skipped_videos(self) -> int:
        """How many distinct training files this process could not decode (--bad_video skip), over all epochs."""
        return len(self.skipped_video_paths)

    def _note_skipped(self, inputs) -> None:
        """Record the batch's undecodable files by path; the collator logs each the first time it is seen."""
        paths = inputs.get("skipped_paths") or ()
        if paths:
            self.skipped_video_paths.update(paths)
            if hasattr(self.data_collator, "log_skipped"):  # batches collated in DataLoader workers
                self.data_collator.log_skipped(inputs)

    # ------------------------------------------------------------------ logging per term
    def record_terms(self, outputs: dict) -> None:
        """Accumulate the scalar terms of `outputs` (except `loss`, which the Trainer logs) until the next log.
        The sums stay on the device: reading a term every step would synchronise the host with the GPU."""
        for key, value in outputs.items():
            if key == "loss" or not torch.is_tensor(value) or value.numel() != 1:
                continue
            value = value.detach().float().reshape(())
            total = self._term_sums.get(key)
            self._term_sums[key] = value if total is None else total + value.to(total.device)
        self._term_count += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self._term_count and "loss" in logs:
            keys = sorted(self._term_sums)
            values = torch.stack([self._term_sums[k].to(self.args.device) for k in keys]) / self._term_count
            if self.accelerator.num_processes > 1:
                values = self.accelerator.reduce(values, reduction="mean")
            logs.update({k: round(float(v), 6) for k, v in zip(keys, values)})
            self._term_sums.clear()
            self._term_count = 0
        super().log(logs, start_time)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        """Score the student on each eval dataset in its own vocabulary (the evaluation harness: one centre view per
        video, the model's own scoring head) and report, per dataset:

        - `top1`, `top5`: open-vocabulary accuracy; `hm`: the harmonic mean of `base` and `novel` top-1 when both
          are eval datasets;
        - `loss`: `evaluation_losses`, the cross-entropy of the view-averaged scaled logits (`EvalOutput.logits`)
          against the labels, unsmoothed: the mean of -log p(label) under the model's own class probabilities;
        - the dict of `compute_metrics(EvalPrediction(predictions=logits (N, C), label_ids=(N,)))` (numpy; the
          logits through `preprocess_logits_for_metrics(logits, labels)` if given; `losses` (N,) too with
          `--include_for_metrics loss`; one call with `compute_result=True` under `--batch_eval_metrics`; not
          called with `--prediction_loss_only`);
        - `runtime`, `samples_per_second` (`transformers.trainer_utils.speed_metrics`).

        A single dataset names them `eval_top1`, `eval_loss`, `eval_<metric>`; a dict of datasets
        `eval_<name>_top1`, `eval_<name>_loss`, `eval_<name>_<metric>`, plus `eval_loss`, the mean of their losses, so
        `metric_for_best_model="eval_loss"`, `load_best_model_at_end` and early stopping work either way.
        `ignore_keys` concerns outputs the Trainer gathers; there are none here."""
        datasets = eval_dataset if eval_dataset is not None else self.eval_dataset
        if datasets is None:
            return {}
        named = isinstance(datasets, dict)
        if not named:
            datasets = {None: datasets}
        student = self.objective.student
        was_training = student.training
        student.eval()
        metrics, losses = {}, []
        try:
            for name, dataset in datasets.items():
                prefix = metric_key_prefix if name is None else f"{metric_key_prefix}_{name}"
                dataset_metrics = self._evaluate_dataset(dataset, prefix)
                losses.append(dataset_metrics[f"{prefix}_loss"])
                metrics.update(dataset_metrics)
        finally:
            student.train(was_training)
        if named:
            from ..evaluation.metrics import harmonic_mean

            metrics[f"{metric_key_prefix}_loss"] = float(sum(losses) / len(losses))
            base, novel = metrics.get(f"{metric_key_prefix}_base_top1"), metrics.get(f"{metric_key_prefix}_novel_top1")
            if base is not None and novel is not None:
                metrics[f"{metric_key_prefix}_hm"] = harmonic_mean(base, novel)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _evaluate_dataset(self, dataset, prefix: str) -> dict[str, float]:
        """`{prefix}_top1`, `_top5`, `_loss`, the user's `compute_metrics` and speed metrics of one eval dataset."""
        import time

        from transformers.trainer_utils import denumpify_detensorize, speed_metrics

        from ..evaluation.harness import evaluate_dataset
        from ..evaluation.metrics import topk_accuracy

        start = time.time()
        output = evaluate_dataset(self.objective.student, self.processor, dataset, progress=False,
                                  batch_size=self.args.per_device_eval_batch_size)
        loss, per_video = evaluation_losses(output)
        metrics = {f"{prefix}_top1": topk_accuracy(output.scores, output.labels, 1),
                   f"{prefix}_top5": topk_accuracy(output.scores, output.labels, 5), f"{prefix}_loss": loss}
        for key, value in denumpify_detensorize(self._user_metrics(output, per_video) or {}).items():
            metrics[key if key.startswith(f"{prefix}_") else f"{prefix}_{key}"] = value
        metrics.update(speed_metrics(prefix, start, num_samples=len(output.labels)))
        return metrics

    def _user_metrics(self, output, per_video: torch.Tensor) -> dict:
        """`compute_metrics` on one dataset's logits and labels, as the Trainer's evaluation loop would call it."""
        if self.compute_metrics is None or self.args.prediction_loss_only:
            return {}
        from transformers.trainer_utils import EvalPrediction

        logits, labels = output.logits if output.logits is not None else output.scores, output.labels
        if self.preprocess_logits_for_metrics is not None:
            logits = self.preprocess_logits_for_metrics(logits, labels)
        extra = {"losses": per_video.numpy()} if "loss" in (self.args.include_for_metrics or []) else {}
        prediction = EvalPrediction(predictions=logits.detach().cpu().numpy(), label_ids=labels.cpu().numpy(),
                                    **extra)
        if self.args.batch_eval_metrics:  # the whole dataset as one batch, and the last one
            return self.compute_metrics(prediction, compute_result=True)
        return self.compute_metrics(prediction)

    # ------------------------------------------------------------------ saving
    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Checkpoints (`_internal_call`) hold the whole objective module (student, heads, teachers), so a resumed
        run continues exactly; a user-facing save exports the student alone as a `VideoClipModel`."""
        if _internal_call or self.exporter is None:
            return super().save_model(output_dir, _internal_call=_internal_call)
        output_dir = output_dir or self.args.output_dir
        student = None
        if self.is_fsdp_enabled:  # sharded weights: every process takes part in gathering them, the main one saves
            state = self.accelerator.get_state_dict(self.model)
            student = self.exporter.full_student(state) if self.args.should_save else None
        if self.args.should_save:
            os.makedirs(output_dir, exist_ok=True)
            self.exporter(self.objective, output_dir, student=student)


def evaluation_losses(output) -> tuple[float, torch.Tensor]:
    """(mean, per video) cross-entropy of an `EvalOutput`: `F.cross_entropy(output.logits, output.labels)`, the
    logits being the view-averaged scaled logits of the model's scoring head, without label smoothing. It is -log of
    the model's own probability of the true class: exactly with one view per video (the trainer's evaluation) or
    `view_pooling="logits"`; with several views and `"probabilities"` pooling it scores the views' mean logits.
    An output without logits falls back to -log of its probabilities."""
    labels = output.labels.long()
    if output.logits is not None:
        per_video = torch.nn.functional.cross_entropy(output.logits.float(), labels, reduction="none")
    else:
        per_video = -output.scores.float().clamp_min(torch.finfo(torch.float32).tiny).log().gather(
            1, labels[:, None]).squeeze(1)
    return float(per_video.mean()), per_video


__all__ = ["VideoClipTrainer", "dataset_class_names", "evaluation_losses", "flip_preserves_labels",
           "training_augmentation"]
