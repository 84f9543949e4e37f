"""`taco`: relative structure distillation from an EMA teacher, with a disposable specialization projection.

L = CE(h(v) + v, W) + lambda * KL(teacher || student) of anchor-mediated class scores (TACO eq. (3)-(8)),
`objectives.taco.relative_structure_distillation`; the teacher is updated after every optimizer step with
`objectives.taco.ema_update_` and lives in this module, so Trainer checkpoints hold it.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..base import MethodConfig, base_model, text_tower_trains
from ..ce.objective import CrossEntropyObjective
from .loss import (
    EMA_MOMENTUM,
    NUM_ANCHORS,
    RSD_WEIGHT,
    SpecializationProjection,
    default_temperature,
    ema_update_,
    relative_structure_distillation,
    sample_anchors,
)

logger = logging.getLogger(__name__)


@dataclass
class TacoConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "taco (TACO) options"

    rsd_weight: float = field(default=RSD_WEIGHT, metadata={"help": "lambda: weight of the RSD term."})
    num_anchors: int = field(default=NUM_ANCHORS, metadata={"help": "Anchors M, resampled every step."})
    rsd_temperature: float | None = field(default=None, metadata={
        "help": "tau; default (M + kappa) / (D * scale), scale = exp(logit_scale) of the initial model, kappa = "
                "0.025 scale^2 (objectives.taco.default_temperature): the anchor score on the model's own logit "
                "scale, softened for anchor noise (OpenAI CLIP, M = 200, D = 512: 0.00879)."})
    ema_momentum: float = field(default=EMA_MOMENTUM, metadata={"help": "EMA teacher momentum (1.0 = frozen)."})
    specialization_projection: bool = field(default=True, metadata={
        "help": "CE through the disposable projection v + h(v); false: CE on v itself (TACO Table 1(a) ablation)."})

    def validate(self, args) -> None:
        if not 0.0 <= self.ema_momentum <= 1.0:
            raise ValueError(f"--ema_momentum must lie in [0, 1], got {self.ema_momentum}.")
        if self.num_anchors < 1:
            raise ValueError(f"--num_anchors must be positive, got {self.num_anchors}.")

    def inactive_fields(self) -> set[str]:
        inactive = set() if self.specialization_projection else {"projection_learning_rate"}  # the one head
        if not self.rsd_weight:
            inactive.update(("num_anchors", "rsd_temperature", "ema_momentum"))
        return inactive


class TacoObjective(CrossEntropyObjective):
    config_class = TacoConfig
    description = "TACO: relative structure distillation with an EMA teacher and a specialization projection"

    def __init__(self, student, config, context):
        super().__init__(student, config, context)
        dim = self.projection_dim
        if config.specialization_projection:
            self.heads["specialization"] = SpecializationProjection(dim)
            _warn_if_the_projection_outweighs_the_learner(student, self.heads["specialization"])
        # float32 whatever the student's dtype: with m = 0.9998 an update of 2e-4 of the difference is below bf16's
        # resolution and the teacher would stall.
        self.ema_teacher = copy.deepcopy(student).float().eval().requires_grad_(False)
        # tau from the model's own logit scale, softened for anchor noise (objectives.taco.default_temperature).
        logit_scale = min(float(base_model(student).logit_scale.detach().exp()), 100.0)
        self.temperature = config.rsd_temperature or default_temperature(config.num_anchors, dim, logit_scale)

    def loss(self, pixel_values_videos, labels):
        ce, video, _, text = self.classification(pixel_values_videos, labels,
                                                 video_transform=self.heads["specialization"]
                                                 if "specialization" in self.heads else None)
        with torch.no_grad():
            teacher_video = self.ema_teacher.get_video_features(pixel_values_videos=pixel_values_videos)
            if text_tower_trains(self.student):
                ids, mask = self.class_texts.sample(self.generator(1))  # the template the student drew
                teacher_text = self.ema_teacher.get_class_embeddings(input_ids=ids, attention_mask=mask)
            else:
                teacher_text = text
        anchors = sample_anchors(self.config.num_anchors, video.shape[-1], generator=self.generator(3)).to(video)
        rsd = relative_structure_distillation(video, text, teacher_video, teacher_text, anchors, self.temperature)
        return {"loss": ce + self.config.rsd_weight * rsd, "ce": ce.detach(), "rsd": rsd.detach()}

    def train(self, mode: bool = True):
        """`Trainer` calls `model.train()` every step: the teacher stays in eval mode (no dropout)."""
        super().train(mode)
        self.ema_teacher.eval()
        return self

    def on_optimizer_step(self) -> None:
        ema_update_(self.ema_teacher, self.student, self.config.ema_momentum)


def _warn_if_the_projection_outweighs_the_learner(student, projection) -> None:
    """One warning line when the disposable projection has more parameters than the learner trains (visual prompts,
    small adapters): it is dropped at export, and it can take the fitting with it (toy-b2n, `--adaptation prompts`,
    split 0: HM 21 with it, 42 without; docs/learners.md)."""
    learned = sum(p.numel() for p in student.parameters() if p.requires_grad)
    head = sum(p.numel() for p in projection.parameters())
    if learned < head:
        logger.warning("taco: the specialization projection (%s parameters, dropped at export) is larger than what "
                       "the learner trains (%s parameters); the exported model may keep little of the training. "
                       "With such a learner consider --specialization_projection false (docs/learners.md).",
                       f"{head:,}", f"{learned:,}")


__all__ = ["TacoConfig", "TacoObjective"]
