"""`open_vclip` (Open-VCLIP, Weng et al., ICML 2023): interpolated weight optimisation on a `vclip` backbone.

Each step draws r ~ U(0, 0.6) and adds `w * CE(r * theta_CLIP + (1 - r) * theta)` to the CE loss
(`objectives.open_vclip.interpolated_weight_loss`); SWA over epochs (`--swa`) and test-time weight patching
(`--patch_alpha 0.5`, a shared flag) complete the method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..base import MethodConfig
from ..ce.objective import CrossEntropyObjective
from ..common.averaging_callbacks import EpochAveragingCallback
from .loss import (
    INTERPOLATION_LOSS_WEIGHT,
    INTERPOLATION_RATIO_HIGH,
    interpolated_weight_loss,
    sample_interpolation_ratio,
)


@dataclass
class OpenVclipConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "open_vclip (Open-VCLIP) options"

    interpolation_weight: float = field(default=INTERPOLATION_LOSS_WEIGHT,
                                        metadata={"help": "Weight of the loss at the interpolated weights."})
    interpolation_max_ratio: float = field(default=INTERPOLATION_RATIO_HIGH, metadata={
        "help": "r ~ U(0, this): the weight of CLIP in the interpolated weights."})
    swa: bool = field(default=False, metadata={
        "help": "Export the uniform average of the epoch snapshots (Open-VCLIP's SWA)."})
    swa_start_epoch: int = field(default=2, metadata={
        "help": "First averaged epoch (1-based); the official code's wa_start = 2, then every epoch to the end."})

    def validate(self, args) -> None:
        if self.swa_start_epoch < 1:
            raise ValueError(f"--swa_start_epoch is 1-based, got {self.swa_start_epoch}.")
        if not 0.0 <= self.interpolation_max_ratio <= 1.0:
            raise ValueError(f"--interpolation_max_ratio must lie in [0, 1], got {self.interpolation_max_ratio}.")

    def inactive_fields(self) -> set[str]:
        inactive = {"projection_learning_rate"}  # no heads
        if not self.swa:
            inactive.add("swa_start_epoch")
        if not self.interpolation_weight:
            inactive.add("interpolation_max_ratio")
        return inactive


class OpenVclipObjective(CrossEntropyObjective):
    """L = CE(theta) + w * CE(r theta_CLIP + (1 - r) theta); theta_CLIP = the trainable tensors at the start."""

    config_class = OpenVclipConfig
    default_temporal_mode = "vclip"
    default_frame_pooling = "logits"  # per-frame logits averaged (Open-VCLIP / FROSTER model files)
    default_view_pooling = "logits"  # SlowFast test meter: the views' logits summed
    description = "Open-VCLIP (Weng et al., ICML 2023): neighbour-frame attention, interpolated weight optimisation"
    interpolates_weights = True

    def __init__(self, student, config, context):
        super().__init__(student, config, context)
        # theta_CLIP: not a buffer (no optimizer, no checkpoint); rebuilt from the base model on resume.
        self.__dict__["anchor_weights"] = {n: p.detach().clone() for n, p in student.named_parameters()
                                           if p.requires_grad}

    def loss(self, pixel_values_videos, labels):
        ce, *_ = self.classification(pixel_values_videos, labels)
        ratio = sample_interpolation_ratio(self.generator(2), high=self.config.interpolation_max_ratio)

        def loss_fn(params, batch):
            pixels, targets = batch
            return self.cross_entropy(self.scores_with(params, pixels), targets)

        interpolated = interpolated_weight_loss(self.student, loss_fn, (pixel_values_videos, labels),
                                                self.anchor_weights, ratio)
        loss = ce + self.config.interpolation_weight * interpolated
        return {"loss": loss, "ce": ce.detach(), "interpolated_ce": interpolated.detach(),
                "ratio": torch.tensor(ratio)}

    def callbacks(self):

        if not self.config.swa:
            return []
        return [EpochAveragingCallback(self.config.swa_start_epoch, 10**6, params_filter=r"^student\.")]


__all__ = ["OpenVclipConfig", "OpenVclipObjective"]
