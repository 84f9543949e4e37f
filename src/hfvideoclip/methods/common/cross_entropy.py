"""Video-text classification logits and cross-entropy (ViFi-CLIP's objective, the `ce` term of every method).

The logit of video `i` for class `j` is `exp(logit_scale) * cos(v_i, w_j)`. The learned log-scale trains (no clamp in
the graph); training keeps `exp(logit_scale) <= LOGIT_SCALE_MAX` by clamping the parameter after each optimizer step,
as CLIP and open_clip do.

The scoring and the template ensemble are implemented once, in the model file (`scaled_cosine_logits`,
`template_ensemble`, behind `VideoClipModel.compute_logits` / `get_class_embeddings`); the functions here are the
same math for code that holds bare tensors (e.g. a `logit_scale` taken from interpolated weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.video_clip.modeling_video_clip import LOGIT_SCALE_MAX, scaled_cosine_logits, template_ensemble

__all__ = ["LOGIT_SCALE_MAX", "video_text_logits", "classification_loss", "average_template_embeddings"]


def video_text_logits(
    video_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor | float
) -> torch.Tensor:
    """Scaled cosine similarities between videos and class texts (`scaled_cosine_logits`, the cosine head's math).

    Args:
        video_embeds: `(B, D)` video embeddings (any norm; also `(..., D)`).
        text_embeds: `(N, D)` class-text embeddings (any norm).
        logit_scale: the *log* of the scale, a scalar tensor or nn.Parameter such as `model.logit_scale` (or a
            float).

    Returns:
        `(B, N)` logits `min(exp(logit_scale), 100) * <v / |v|, w / |w|>` (float32 for half-precision inputs).
    """
    return scaled_cosine_logits(video_embeds, text_embeds, logit_scale)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of `(B, N)` logits against `(B,)` integer class labels."""
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def average_template_embeddings(text_embeds: torch.Tensor) -> torch.Tensor:
    """Class embeddings from several prompt templates: L2-normalise each, average, renormalise
    (`template_ensemble`).

    Args:
        text_embeds: `(N, P, D)` embeddings of `P` templated prompts for each of `N` classes.

    Returns:
        `(N, D)` unit-norm class embeddings.
    """
    return template_ensemble(text_embeds)
