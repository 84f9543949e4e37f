"""`open_mede` (Open-MeDe, ICCV 2025): cross-batch first-order meta-optimisation and Gaussian weight averaging.

Each batch splits into a support half S and a query half Q; `objectives.open_mede.first_order_meta_step` returns
g_S + delta * g_Q (fast weights theta' = theta - alpha g_S), which this method writes into `.grad` in its custom
training step (one all-reduce per step across processes); the optimizer applies beta = the learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..objectives.cross_entropy import classification_loss
from ..objectives.open_mede import QUERY_WEIGHT, assign_gradients, first_order_meta_step
from .base import MethodConfig, step_generator
from .ce import CrossEntropyObjective


@dataclass
class OpenMedeConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "open_mede (Open-MeDe) options"

    meta_inner_lr: float | None = field(default=None, metadata={
        "help": "alpha (inner step); default: the current learning rate (paper: alpha = beta)."})
    meta_query_weight: float = field(default=QUERY_WEIGHT, metadata={"help": "delta: weight of the query gradient."})
    gwa: bool = field(default=False, metadata={"help": "Export the Gaussian weight average of the snapshots."})
    gwa_mu: float | None = field(default=None, metadata={"help": "GWA mean (1-based snapshot index); default: middle."})
    gwa_sigma: float | None = field(default=None, metadata={
        "help": "GWA std in snapshots; default R / 4 (see objectives.open_mede.default_gaussian_sigma)."})
    gwa_every_n_steps: int | None = field(default=None, metadata={"help": "Snapshot period; default: every epoch."})

    def validate(self, args) -> None:
        if args.per_device_train_batch_size < 2:
            raise ValueError("--method open_mede splits every batch into a support and a query half: use "
                             "--per_device_train_batch_size >= 2.")
        if args.gradient_accumulation_steps != 1:
            raise ValueError("--method open_mede takes one meta step per batch; use gradient_accumulation_steps=1 "
                             "(a larger batch gives more tasks per step).")


class OpenMedeObjective(CrossEntropyObjective):
    config_class = OpenMedeConfig
    default_temporal_mode = "vclip"
    description = "Open-MeDe: cross-batch meta-optimisation with Gaussian weight averaging"
    has_custom_training_step = True

    def loss(self, pixel_values_videos, labels):
        """Plain CE: what evaluation and logging see; training goes through `custom_training_step`."""
        ce, *_ = self.classification(pixel_values_videos, labels)
        return {"loss": ce, "ce": ce.detach()}

    def meta_step(self, pixel_values_videos, labels, alpha: float, delta: float):
        """Support = first half of the batch, query = second half; returns `MetaStepOutput` (g_S + delta g_Q)."""
        half = pixel_values_videos.shape[0] // 2
        generator_seed = (self.args.seed, self.step)

        def loss_fn(params, batch):
            pixels, targets = batch
            return classification_loss(self.scores_with(params, pixels, step_generator(*generator_seed, 1)),
                                       targets)

        return first_order_meta_step(self.student, loss_fn, (pixel_values_videos[:half], labels[:half]),
                                     (pixel_values_videos[half:], labels[half:]), alpha=alpha, delta=delta)

    def custom_training_step(self, trainer, model, pixel_values_videos, labels):
        alpha = self.config.meta_inner_lr if self.config.meta_inner_lr is not None else trainer._get_learning_rate()
        result = self.meta_step(pixel_values_videos, labels, alpha=alpha, delta=self.config.meta_query_weight)
        gradients = result.gradients
        accelerator = trainer.accelerator
        if accelerator.num_processes > 1:  # one all-reduce per meta step
            names = list(gradients)
            flat = accelerator.reduce(torch.cat([gradients[n].flatten() for n in names]), reduction="mean")
            offset = 0
            for name in names:
                numel = gradients[name].numel()
                gradients[name] = flat[offset:offset + numel].view_as(gradients[name])
                offset += numel
        assign_gradients(self.student, gradients, accumulate=True)
        trainer.record_terms({"support_ce": result.support_loss, "query_ce": result.query_loss})
        return result.support_loss.detach()

    def callbacks(self):
        from ..training.callbacks import GaussianWeightAveragingCallback

        if not self.config.gwa:
            return []
        return [GaussianWeightAveragingCallback(mu=self.config.gwa_mu, sigma=self.config.gwa_sigma,
                                                every_n_steps=self.config.gwa_every_n_steps,
                                                params_filter=r"^student\.")]


__all__ = ["OpenMedeConfig", "OpenMedeObjective"]
