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

Under several processes the official code scores the *global* batch (`main_nce.py`, `train_one_epoch`): every
process all-gathers the frame embeddings and each video's spatial and temporal descriptor embeddings
(`allgather`) and the labels (`gather_labels`), computes the `(B_g, B_g)` logits of all `B_g = world_size x B`
videos against all `B_g` descriptor sets (`get_logit`: one Sinkhorn call, hence one stopping test, over the
`B_g x B_g` problems per descriptor type), and the loss above with `G[i, j]` from the gathered labels; every
process holds the same loss.
`gather_batch` is that gather, with a gradient that makes DDP's averaged gradient the one-process gradient of the
global loss (see its docstring for how this differs from the official `AllGather`).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ...models.video_clip.optimal_transport import (
    SINKHORN_EPSILON,
    SINKHORN_MAX_ITER,
    SINKHORN_TOL,
    optimal_descriptor_logits,
    optimal_descriptor_scores,
    sinkhorn,
)
from ...models.video_clip.precision import autocast_off

__all__ = [
    "SINKHORN_EPSILON",
    "SINKHORN_MAX_ITER",
    "SINKHORN_TOL",
    "TARGET_SHARPNESS",
    "gather_batch",
    "sinkhorn",
    "optimal_descriptor_scores",
    "optimal_descriptor_logits",
    "ost_contrastive_loss",
]

TARGET_SHARPNESS = 10.0
"""Multiplier of the 0/1 label-equality matrix before the row softmax that makes the KL target (official
`NCELoss`: `F.softmax(label * 10, 1)`). With `P` positives among `M` columns a positive gets
`e^10 / (P e^10 + M - P)` (~`1/P`), a negative `1 / (P e^10 + M - P)` (~`4.5e-5 / P`)."""


def _world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherRows(torch.autograd.Function):
    """Concatenation of every process's rows (rank order), rows per rank given; backward sums the gradient of the
    concatenation over processes and returns this process's rows."""

    @staticmethod
    def forward(ctx, tensor, sizes):
        rank, world = _world()
        ctx.rank, ctx.sizes = rank, sizes
        longest = max(sizes)
        padded = tensor.contiguous()
        if padded.shape[0] < longest:  # all_gather needs one shape: pad, then cut
            padded = torch.cat([padded, padded.new_zeros((longest - padded.shape[0],) + padded.shape[1:])])
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
        return torch.cat([part[:n] for part, n in zip(parts, sizes)])

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # sum over processes: each one differentiated its own copy of the global loss
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None


def gather_batch(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Every process's batch, concatenated in rank order: `(B_r, ...)` per process -> `(B_g, ...)`, `B_g = sum_r B_r`.

    Call it on every process with the same tensors in the same order (a collective); batch sizes may differ per
    process (rows are padded for the gather and cut after). Without a process group, or with one process, the
    tensors come back as they are.

    Gradient: the backward all-reduces (sums) the gradient of the gathered tensor over processes and returns this
    process's rows. Every process computes the same global loss `L`, so process `r` gets `world_size x dL/dx_r`
    for its rows `x_r`, and DDP's mean over processes of `world_size (dL/dx_r)(dx_r/dtheta)` is `dL/dtheta`: the
    gradient of a one-process run on the concatenated batch. Parameters used after the gather (the logit scale)
    get `dL/dtheta` on every process, which DDP's mean keeps. The official `AllGather` (`main_nce.py`) returns
    only this process's rows of its own gradient, so there the towers get `1/world_size` of that gradient (the
    logit scale all of it); under AdamW, which the official code uses without gradient clipping, a constant
    factor on the gradient changes the updates only through `eps`.

    Args:
        tensors: `(B_r, ...)` tensors with the same first dimension on this process; any dtype (integer labels
            and the `(B_r, N)` descriptor masks of uneven counts, sent as uint8, are gathered without gradient).

    Returns:
        The `(B_g, ...)` concatenations, one per input, differentiable in the inputs.
    """
    world = _world()[1]
    if world == 1 or not tensors:
        return tensors
    rows = tensors[0].shape[0]
    if any(t.shape[0] != rows for t in tensors):
        raise ValueError(f"gather_batch: tensors with different first dimensions {[t.shape[0] for t in tensors]}")
    sizes = [torch.zeros(1, dtype=torch.long, device=tensors[0].device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([rows], dtype=torch.long, device=tensors[0].device))
    sizes = [int(n) for n in torch.cat(sizes).tolist()]
    return tuple(_GatherRows.apply(t, sizes) for t in tensors)


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
