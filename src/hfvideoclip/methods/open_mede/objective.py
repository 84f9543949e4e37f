"""`open_mede` (Open-MeDe, ICCV 2025): cross-batch first-order meta-optimisation and Gaussian weight averaging.

Each batch splits into a support half S and a query half Q; `objectives.open_mede.first_order_meta_step` returns
g_S + delta * g_Q (fast weights theta' = theta - alpha g_S), which this method writes into `.grad` in its custom
training step (one all-reduce per step across processes); the optimizer applies beta = the learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..base import MethodConfig, step_generator
from ..ce.objective import CrossEntropyObjective
from .averaging import GaussianWeightAveragingCallback
from .loss import QUERY_WEIGHT, assign_gradients, first_order_meta_step


@dataclass
class OpenMedeConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "open_mede (Open-MeDe) options"

    meta_inner_lr: float | None = field(default=None, metadata={
        "help": "alpha (inner step); default: the current learning rate (paper: alpha = beta)."})
    meta_query_weight: float = field(default=QUERY_WEIGHT, metadata={"help": "delta: weight of the query gradient."})
    meta_tasks: int = field(default=4, metadata={
        "help": "Tasks per batch: each is a support half and a query half with its own fast weights; their "
                "gradients are summed (paper: 4 tasks of 8 support + 8 query clips)."})
    gwa: bool = field(default=False, metadata={"help": "Export the Gaussian weight average of the snapshots."})
    gwa_mu: float | None = field(default=None, metadata={"help": "GWA mean (1-based snapshot index); default: middle."})
    gwa_sigma: float | None = field(default=None, metadata={
        "help": "GWA std in snapshots; default R / 4 (see objectives.open_mede.default_gaussian_sigma)."})
    gwa_every_n_steps: int | None = field(default=None, metadata={"help": "Snapshot period; default: every epoch."})

    def validate(self, args) -> None:
        if self.meta_tasks < 1:
            raise ValueError(f"--meta_tasks must be positive, got {self.meta_tasks}.")
        if args.per_device_train_batch_size < 2 * self.meta_tasks:
            raise ValueError(f"--method open_mede splits every batch into --meta_tasks {self.meta_tasks} tasks of a "
                             f"support and a query half: --per_device_train_batch_size must be at least "
                             f"{2 * self.meta_tasks} (got {args.per_device_train_batch_size}).")

    def inactive_fields(self) -> set[str]:
        inactive = {"projection_learning_rate"}  # no heads
        if not self.gwa:
            inactive.update(("gwa_mu", "gwa_sigma", "gwa_every_n_steps"))
        return inactive


class OpenMedeObjective(CrossEntropyObjective):
    config_class = OpenMedeConfig
    default_temporal_mode = "vclip"
    # No official code; its learner "follows [50]" (Open-VCLIP, Sec. 4 implementation details) and aggregates the
    # 3 views linearly: Open-VCLIP's scoring, per-frame logits averaged and the views' logits summed.
    default_frame_pooling = "logits"
    default_view_pooling = "logits"
    description = "Open-MeDe: cross-batch meta-optimisation with Gaussian weight averaging"
    has_custom_training_step = True

    def loss(self, pixel_values_videos, labels):
        """Plain CE: what evaluation and logging see; training goes through `custom_training_step`."""
        ce, *_ = self.classification(pixel_values_videos, labels)
        return {"loss": ce, "ce": ce.detach()}

    def meta_step(self, pixel_values_videos, labels, alpha: float, delta: float, loss_scale: float = 1.0):
        """One task: support = first half of the clips, query = second half; returns `MetaStepOutput`
        (g_S + delta g_Q of `loss_scale * L`)."""
        half = pixel_values_videos.shape[0] // 2
        generator_seed = (self.args.seed, self.step)

        def loss_fn(params, batch):
            pixels, targets = batch
            return self.cross_entropy(self.scores_with(params, pixels, step_generator(*generator_seed, 1)),
                                      targets)

        return first_order_meta_step(self.student, loss_fn, (pixel_values_videos[:half], labels[:half]),
                                     (pixel_values_videos[half:], labels[half:]), alpha=alpha, delta=delta,
                                     loss_scale=loss_scale)

    def custom_training_step(self, trainer, model, pixel_values_videos, labels):
        """The batch as `meta_tasks` tasks, gradients summed over tasks, written into `.grad` as an ordinary
        backward would leave them: multiplied by the fp16 loss scale (the optimizer step unscales and checks them,
        and clipping applies), divided by the gradient-accumulation steps, averaged across processes."""
        accelerator = trainer.accelerator
        scaler = getattr(accelerator, "scaler", None)
        loss_scale = float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0
        alpha = self.config.meta_inner_lr if self.config.meta_inner_lr is not None else trainer._get_learning_rate()
        tasks = min(self.config.meta_tasks, pixel_values_videos.shape[0] // 2)  # a short last batch: fewer tasks
        gradients: dict[str, torch.Tensor] = {}
        support, query = [], []
        for task_pixels, task_labels in zip(pixel_values_videos.chunk(tasks), labels.chunk(tasks)):
            result = self.meta_step(task_pixels, task_labels, alpha=alpha, delta=self.config.meta_query_weight,
                                    loss_scale=loss_scale)
            for name, grad in result.gradients.items():
                gradients[name] = grad if name not in gradients else gradients[name].add_(grad)
            support.append(result.support_loss)
            query.append(result.query_loss)
        accumulation = trainer.args.gradient_accumulation_steps
        names = list(gradients)
        flat = torch.cat([gradients[n].flatten() for n in names]) / accumulation
        if accelerator.num_processes > 1:  # one all-reduce per meta step
            flat = accelerator.reduce(flat, reduction="mean")
        offset = 0
        for name in names:
            numel = gradients[name].numel()
            gradients[name] = flat[offset:offset + numel].view_as(gradients[name])
            offset += numel
        assign_gradients(self.student, gradients, accumulate=True)
        support_loss, query_loss = torch.stack(support).mean(), torch.stack(query).mean()
        trainer.record_terms({"support_ce": support_loss, "query_ce": query_loss})
        return support_loss.detach() / accumulation

    def callbacks(self):
        if not self.config.gwa:
            return []
        return [GaussianWeightAveragingCallback(mu=self.config.gwa_mu, sigma=self.config.gwa_sigma,
                                                every_n_steps=self.config.gwa_every_n_steps,
                                                params_filter=r"^student\.")]


__all__ = ["OpenMedeConfig", "OpenMedeObjective"]
