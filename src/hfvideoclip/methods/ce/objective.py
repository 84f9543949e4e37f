"""`ce` (ViFi-CLIP): cross-entropy of the model's class logits over prompt-template class texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..base import MethodConfig, Objective


@dataclass
class CrossEntropyConfig(MethodConfig):
    """ViFi-CLIP has no flags of its own: backbone, adaptation and optimiser are shared flags."""

    _argument_group_name: ClassVar[str] = "ce (ViFi-CLIP) options"

    def inactive_fields(self) -> set[str]:
        return {"projection_learning_rate"}  # no heads


class CrossEntropyObjective(Objective):
    """L = CE(compute_logits(v, W), y): the video batch against the training vocabulary through the model's head."""

    config_class = CrossEntropyConfig
    default_temporal_mode = "mean"
    description = "ViFi-CLIP (Rasheed et al., CVPR 2023): full fine-tuning with frame-mean pooling"

    def classification(self, pixel_values_videos: torch.Tensor, labels: torch.Tensor, video_transform=None):
        """CE through the scoring head. Returns (ce, video (B, D), frames (B, T, D) or None, class embeds (C, D)).
        `video_transform` maps the pooled video embedding before scoring (TACO's specialization projection)."""
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        text = self.class_embeddings()
        scored = video_transform(video) if video_transform is not None else video
        logits = self.student.compute_logits(scored, text, frame_embeds=frames)
        return self.cross_entropy(logits, labels), video, frames, text

    def loss(self, pixel_values_videos, labels):
        ce, *_ = self.classification(pixel_values_videos, labels)
        return {"loss": ce, "ce": ce.detach()}


__all__ = ["CrossEntropyConfig", "CrossEntropyObjective"]
