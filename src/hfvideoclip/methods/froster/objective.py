"""`froster` (FROSTER, Huang et al., ICLR 2024): residual feature distillation from the frozen CLIP.

L = CE + beta * (L_vision + L_text) with `objectives.froster.froster_distillation`; the teacher is the frozen
zero-shot model run frame-wise (`mean`); the residual projectors are heads (dropped at export) and act on the
L2-normalised student features; the text tower trains. Facts from the official code (Visual-AI/FROSTER,
`temporalclip_video_model.py` and `tools/train_net.py`): one template index for all classes per step, averaged with
the bare description prompt; projectors at the backbone's learning rate (every finetune factor is 1.0 there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from ...models.video_clip import VideoClipConfig, VideoClipModel
from ..base import MethodConfig, base_model
from ..ce.objective import CrossEntropyObjective
from ..common.averaging_callbacks import EpochAveragingCallback
from .loss import (
    DEFAULT_DISTILLATION_WEIGHT,
    DEFAULT_RESIDUAL_ALPHA,
    ResidualProjector,
    froster_distillation,
)

logger = logging.getLogger(__name__)


@dataclass
class FrosterConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "froster (FROSTER) options"

    distillation_weight: float = field(default=DEFAULT_DISTILLATION_WEIGHT,
                                       metadata={"help": "beta: weight of the feature distillation."})
    residual_alpha: float = field(default=DEFAULT_RESIDUAL_ALPHA, metadata={"help": "Residual projector alpha."})
    description_file: str | None = field(default=None, metadata={
        "help": "Same as the shared --class_descriptions (kept for older commands); give one of them."})
    average_start_epoch: int | None = field(default=None, metadata={
        "help": "Export the uniform average of epoch snapshots from this epoch (paper, cross-dataset: 2) ..."})
    average_end_epoch: int | None = field(default=None, metadata={"help": "... to this epoch (paper: 22)."})

    def validate(self, args) -> None:
        if self.description_file:  # an alias: training, the recipe's checks and the final evaluation read the shared flag
            given = getattr(args, "class_descriptions", None)
            if given and given != self.description_file:
                raise ValueError("--description_file and --class_descriptions both given; pass only "
                                 "--class_descriptions.")
            args.class_descriptions = self.description_file
        if (self.average_start_epoch is None) != (self.average_end_epoch is None):
            raise ValueError("--average_start_epoch and --average_end_epoch go together.")


def frame_mean_copy(model: VideoClipModel) -> VideoClipModel:
    """The frozen CLIP teacher: the same weights, frame-wise (`mean`) backbone."""
    config = VideoClipConfig.from_dict({**model.config.to_dict(), "temporal_mode": "mean"})
    teacher = VideoClipModel(config)
    teacher.load_state_dict(model.state_dict(), strict=False)
    return teacher.eval().requires_grad_(False)


class FrosterObjective(CrossEntropyObjective):
    config_class = FrosterConfig
    default_temporal_mode = "vclip"
    default_frame_pooling = "logits"  # per-frame logits averaged (Open-VCLIP / FROSTER model files)
    default_view_pooling = "logits"  # SlowFast test meter: the views' logits summed
    description = "FROSTER (Huang et al., ICLR 2024): residual feature distillation from frozen CLIP"
    needs_zero_shot_model = True
    backbone_needs = {"frame_mean_teacher": "it distils the student's per-frame features into a frame-wise ('mean') "
                                            "CLIP teacher built from the student's own weights"}

    def __init__(self, student, config, context):
        super().__init__(student, config, context)
        if context.zero_shot_model is None:
            raise ValueError("method 'froster' needs the zero-shot model as its teacher.")
        if not self.class_texts.has_descriptions:
            logger.warning("froster without --class_descriptions: class texts are name-only templates, not FROSTER's "
                           "published recipe; pass --class_descriptions <FROSTER label_rephrase/ folder or file>.")
        # Not a submodule: never optimised nor checkpointed; rebuilt from the base model on resume.
        self.__dict__["frozen_teacher"] = frame_mean_copy(base_model(context.zero_shot_model))
        dim = self.projection_dim
        self.heads["vision_projector"] = ResidualProjector(dim, alpha=config.residual_alpha)
        self.heads["text_projector"] = ResidualProjector(dim, alpha=config.residual_alpha)

    def loss(self, pixel_values_videos, labels):
        """As FROSTER's official code computes it:

        - class texts: one template index for all classes per step; each class embeds as the normalised mean of its
          normalised `template(name) [+ " " + description]` and bare `description or name` prompts;
        - CE on the student's logits (no projectors);
        - distillation: `mean(1 - cos(P_v(normalize(student frames)), normalize(teacher frames)))` per frame plus
          `mean(1 - cos(P_t(student class texts), teacher class texts))` per class, the teacher the frozen CLIP
          (frame-wise) on the same prompts; total `CE + beta * (vision + text)`.
        """
        index = self.class_texts.sample_index(self.generator(1))
        ids, mask = self.class_texts.prompts(index, with_bare=True)  # (C, 2, L)
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        text = self.student.get_class_embeddings(input_ids=ids, attention_mask=mask)
        ce = self.cross_entropy(self.student.compute_logits(video, text, frame_embeds=frames), labels)
        teacher = self.frozen_teacher.to(pixel_values_videos.device)
        with torch.no_grad():
            teacher_frames = F.normalize(teacher.get_frame_features(pixel_values_videos).float(), dim=-1)
            teacher_text = self._teacher_class_embeddings(teacher, index, ids, mask)
        student_frames = frames if frames is not None else video.unsqueeze(1)
        if student_frames.shape[1] != teacher_frames.shape[1]:  # viclip student: one token per video
            teacher_frames = F.normalize(teacher_frames.mean(dim=1, keepdim=True), dim=-1)
        terms = froster_distillation(F.normalize(student_frames.float(), dim=-1), teacher_frames, text.float(),
                                     teacher_text, self.heads["vision_projector"], self.heads["text_projector"])
        loss = ce + self.config.distillation_weight * terms["total"]
        return {"loss": loss, "ce": ce.detach(), "distill_vision": terms["vision"].detach(),
                "distill_text": terms["text"].detach()}

    def _teacher_class_embeddings(self, teacher, index: int, ids, mask) -> torch.Tensor:
        """The frozen teacher's (C, D) class texts for template `index`: computed once per template and device (the
        teacher never changes; at most K of them are kept)."""
        cache = self.__dict__.setdefault("_teacher_text_cache", {})
        key = (index, ids.device)
        if key not in cache:
            cache[key] = teacher.get_class_embeddings(input_ids=ids, attention_mask=mask)
        return cache[key]

    def callbacks(self):

        if self.config.average_start_epoch is None:
            return []
        return [EpochAveragingCallback(self.config.average_start_epoch, self.config.average_end_epoch,
                                       params_filter=r"^student\.")]


__all__ = ["FrosterConfig", "FrosterObjective", "frame_mean_copy"]
