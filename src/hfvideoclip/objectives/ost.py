"""OST: Optimal Descriptor Solver logits and the batch-level symmetric KL contrastive loss (Chen et al., CVPR 2024).

The scoring maths (`sinkhorn`, `optimal_descriptor_scores`, `optimal_descriptor_logits`) lives in
`hfvideoclip.models.video_clip.optimal_transport` (it ships with the model for `trust_remote_code`) and is
re-exported here.

The loss is OST eqs. (14)-(15) as the official code computes them (tomchen-ctj/OST, `main_nce.py` with
`utils/NCELoss.py`, ActionCLIP's `KLLoss`): the columns are the texts of the *batch's* labels (one per video,
duplicates included: `descriptors[label_id]` in `OST.forward`), so the logits are `(B, B)`; the ground truth is
label equality `G[i, j] = [y_i == y_j]`, turned into a distribution by `softmax(10 G)` per row; each direction is
`KL(target || softmax(logits))` summed over columns and averaged over rows, and the two directions are *added*
(`total_loss = loss_imgs + loss_texts`; the paper's eq. (15) halves the sum, a constant factor). Text-to-video uses
the transposed video-to-text logits (`criterion(logits.T, ground_truth)`), not a separately computed `OD(D, V)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.video_clip.optimal_transport import (
    SINKHORN_EPSILON,
    SINKHORN_MAX_ITER,
    SINKHORN_TOL,
    optimal_descriptor_logits,
    optimal_descriptor_scores,
    sinkhorn,
)
from ..models.video_clip.precision import autocast_off

__all__ = [
    "SINKHORN_EPSILON",
    "SINKHORN_MAX_ITER",
    "SINKHORN_TOL",
    "TARGET_SHARPNESS",
    "sinkhorn",
    "optimal_descriptor_scores",
    "optimal_descriptor_logits",
    "ost_contrastive_loss",
]

TARGET_SHARPNESS = 10.0
"""Multiplier of the 0/1 label-equality matrix before the row softmax that makes the KL target (official
`NCELoss`: `F.softmax(label * 10, 1)`). With `P` positives among `M` columns a positive gets
`e^10 / (P e^10 + M - P)` (~`1/P`), a negative `1 / (P e^10 + M - P)` (~`4.5e-5 / P`)."""


def ost_contrastive_loss(logits: torch.Tensor, labels: torch.Tensor, text_labels: torch.Tensor | None = None,
                         target_sharpness: float = TARGET_SHARPNESS) -> torch.Tensor:
    """OST's batch-level symmetric KL contrastive loss (eqs. (14)-(15), official code's form).

    With `S` the `(B, M)` video-to-text logits (already multiplied by the logit scale), `y` the `B` video labels,
    `z` the `M` text labels, `G[b, m] = [y_b == z_m]` and `s = target_sharpness`:

        Q_v2t = softmax_row(s G),        Q_t2v = softmax_row(s G^T)
        L = (1/B) sum_b KL(Q_v2t[b] || softmax(S[b, :]))  +  (1/M) sum_m KL(Q_t2v[m] || softmax(S[:, m]))

    where `KL(q || p) = sum_j q_j (log q_j - log p_j)`. Without `text_labels` (the default), `logits` are the
    class logits `(B, K)` (column `k` = class `k`, e.g. from `optimal_descriptor_logits` over all classes) and
    the texts are those of the batch's labels: `S = logits[:, labels]` (`(B, B)`, `z = y`), as in the official
    code. To skip scoring classes absent from the batch, score `descriptors[labels]` (`B` "classes") and pass
    `text_labels=labels`: the same loss. With other `text_labels`, a text whose class has no video in the batch
    gets a uniform text-to-video target.

    Args:
        logits: `(B, K)` class logits, or `(B, M)` logits against `M` texts when `text_labels` is given.
        labels: `(B,)` integer class of each video.
        text_labels: `(M,)` integer class of each text column, or None (see above).
        target_sharpness: multiplier of `G` in the target softmax (10 in OST).

    Returns:
        Scalar loss (float32 for half logits), differentiable in `logits`.
    """
    if logits.dim() != 2:
        raise ValueError(f"ost_contrastive_loss: expected (B, K) logits, got shape {tuple(logits.shape)}")
    labels = labels.reshape(-1).to(device=logits.device, dtype=torch.long)
    if labels.numel() != logits.shape[0]:
        raise ValueError(
            f"ost_contrastive_loss: {logits.shape[0]} rows of logits but {labels.numel()} labels"
        )
    if text_labels is None:
        if labels.numel() and (labels.min() < 0 or labels.max() >= logits.shape[1]):
            raise ValueError(
                f"ost_contrastive_loss: labels must lie in [0, {logits.shape[1]}) (columns of the class logits)"
            )
        logits = logits[:, labels]  # (B, B): the texts of the batch's labels
        text_labels = labels
    else:
        text_labels = text_labels.reshape(-1).to(device=logits.device, dtype=torch.long)
        if text_labels.numel() != logits.shape[1]:
            raise ValueError(
                f"ost_contrastive_loss: {logits.shape[1]} columns of logits but {text_labels.numel()} text_labels"
            )
    with autocast_off(logits.device):
        logits = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
        ground_truth = (labels[:, None] == text_labels[None, :]).to(logits.dtype)  # (B, M)
        video_to_text = F.kl_div(
            F.log_softmax(logits, dim=1), F.softmax(target_sharpness * ground_truth, dim=1), reduction="batchmean"
        )
        text_to_video = F.kl_div(
            F.log_softmax(logits.t(), dim=1), F.softmax(target_sharpness * ground_truth.t(), dim=1),
            reduction="batchmean",
        )
        return video_to_text + text_to_video
