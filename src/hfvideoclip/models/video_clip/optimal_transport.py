"""OST's Optimal Descriptor Solver: entropic optimal transport between video frames and class descriptors.

Pure torch on purpose (no `hfvideoclip` import): it ships next to `modeling_video_clip.py` for `trust_remote_code`.

OST (Chen et al., CVPR 2024, "Refining Text Knowledge with Optimal Spatio-Temporal Descriptor for General Video
Recognition") scores a video against class `k` with its `T` L2-normalised frame embeddings `V` and the `N`
L2-normalised embeddings `D_k` of the class's LLM-written descriptors (spatial: `N_s = 4`, temporal: `N_t = 4`):

    S_pool = mean_t(V) . mean_n(D_k)                                                 (eq. (9); means not renormalised)
    C      = 1 - V D_k^T                                   (T, N)                   (eq. (10))
    P*     = Sinkhorn(C), marginals 1/T and 1/N, epsilon = 0.1                       (eqs. (3)-(5), (11))
    S_OT   = sum_ij P*_ij cos(V_i, D_kj)                                             (eq. (12))
    logit  = exp(logit_scale) * (0.5 (S_pool^s + S_OT^s) + 0.5 (S_pool^t + S_OT^t))   (eq. (13), official code)

The paper's eq. (13) writes `1/4` of the four scores; the official code (`trainers/OST.py`, `get_logit`) weighs
each descriptor type's `pool + OT` by 0.5, i.e. twice eq. (13): that is what we compute (a scale the learned
`logit_scale` absorbs, but it matters for loading the official checkpoints' logit scale).

Facts from the official code (tomchen-ctj/OST, `trainers/OST.py`, `OptimalDescriptorSolver` / `Sinkhorn`): the
plan is computed under `torch.no_grad()` (no gradient through `P*`; gradients reach `V` and `D` through the
similarities of eq. (12) and the pooled score); Sinkhorn starts from scalings `r = 1`, `c = 1`, updates
`r = mu / (K c)` then `c = nu / (K^T r)`, stops after the first iteration where `mean |r - r_prev| < 1e-2` (one mean
over *all* entries of the batched `r`, i.e. over every (video, class, frame): a batch-global test), at most 100
iterations, and returns `P = diag(r) K diag(c)`; spatial and temporal descriptors are solved in separate calls.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .precision import autocast_off, full_precision, logit_scale_factor

__all__ = [
    "SINKHORN_EPSILON",
    "SINKHORN_MAX_ITER",
    "SINKHORN_TOL",
    "sinkhorn",
    "optimal_descriptor_scores",
    "optimal_descriptor_logits",
]

SINKHORN_EPSILON = 0.1
"""Entropic regularisation `lambda` of eq. (3) (the kernel is `exp(-C / epsilon)`); official code `self.eps`."""

SINKHORN_MAX_ITER = 100
"""Maximum Sinkhorn iterations; official code `self.max_iter`."""

SINKHORN_TOL = 1e-2
"""Stop once `mean |r - r_prev| < tol` (absolute change of the row scaling `r`); official code `thresh`."""


def _sinkhorn_log_scalings(cost: torch.Tensor, epsilon: float, max_iter: int, tol: float
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Sinkhorn-Knopp in the log domain: `(log r, log c, log K, iterations run)` with `P = diag(r) K diag(c)`.

    Same iterates as the plain algorithm (`r = mu / (K c)`, `c = nu / (K^T r)`, from `r = c = 1`), but the
    matrix-vector products are log-sum-exps, so a kernel entry or a scaling that would under/overflow in float32
    (small `epsilon`, large costs) does not turn into `0 / 0`. The stopping test needs `r` itself; where `r`
    overflows the test reads NaN/inf, which counts as "not converged" (the loop then runs `max_iter` iterations).
    Expects float32/float64 `cost`, called without gradient.
    """
    num_rows, num_cols = cost.shape[-2], cost.shape[-1]
    log_k = -cost / epsilon  # (..., T, N)
    log_mu = -math.log(num_rows)
    log_nu = -math.log(num_cols)
    log_r = cost.new_zeros(cost.shape[:-1])  # (..., T)
    log_c = cost.new_zeros(cost.shape[:-2] + (num_cols,))  # (..., N)
    r = torch.ones_like(log_r)
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        r_prev = r
        log_r = log_mu - torch.logsumexp(log_k + log_c.unsqueeze(-2), dim=-1)
        log_c = log_nu - torch.logsumexp(log_k + log_r.unsqueeze(-1), dim=-2)
        r = log_r.exp()
        err = (r - r_prev).abs().mean()
        if err.item() < tol:  # NaN (inf - inf) compares False: keep iterating
            break
    return log_r, log_c, log_k, iterations


def sinkhorn(cost: torch.Tensor, epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
             tol: float = SINKHORN_TOL) -> torch.Tensor:
    """Entropy-regularised optimal transport plan with uniform marginals (OST eqs. (3)-(5), (11)).

    Solves `min_P <P, C> - epsilon H(P)` s.t. `P 1 = 1/T`, `P^T 1 = 1/N` for every matrix of a batch by
    Sinkhorn-Knopp scaling of the kernel `K = exp(-C / epsilon)`: from `r = 1`, `c = 1`, repeat
    `r <- (1/T) / (K c)`, `c <- (1/N) / (K^T r)` until `mean |r - r_prev| < tol` or `max_iter` iterations, then
    `P = diag(r) K diag(c)` (eq. (4)).

    Conventions (the official OST code's, see the module docstring):

    * the stopping test is one mean over all entries of the batched `r` (shape `(..., T)`), so the whole batch
      stops at the same iteration; `tol` is an absolute change of `r`, whose scale grows with the costs (for
      CLIP-like costs `1 - cos ~ 0.7` it stops after a handful of iterations, for costs spread over `[0, 2]` it
      usually runs `max_iter`);
    * the column constraint holds exactly after each iteration (up to rounding), the row constraint to the
      tolerance of the stopping test;
    * no gradient flows through the plan (computed under `torch.no_grad()`, returned detached);
    * float16/bfloat16 costs are solved in float32 (autocast disabled); float64 stays float64;
    * the iterations run in the log domain (log-sum-exp instead of `K c`), which gives the plain algorithm's
      result to rounding while staying finite where `exp(-C / epsilon)` would underflow.

    The loop synchronises with the device once per iteration (the stopping test reads a scalar), as the official
    implementation does.

    Args:
        cost: `(..., T, N)` cost matrices (finite), e.g. `1 - cos(frames, descriptors)` in `[0, 2]`.
        epsilon: entropic regularisation `lambda` (> 0); 0.1 in OST.
        max_iter: maximum number of iterations (0 returns the kernel `K` itself, `r = c = 1`).
        tol: threshold on `mean |r - r_prev|`.

    Returns:
        `(..., T, N)` transport plans (float32 for half inputs, no `grad_fn`): rows sum to ~`1/T`, columns to `1/N`.
    """
    if cost.dim() < 2:
        raise ValueError(f"sinkhorn: expected a (..., T, N) cost, got shape {tuple(cost.shape)}")
    if not epsilon > 0:
        raise ValueError(f"sinkhorn: epsilon must be positive, got {epsilon}")
    if max_iter < 0:
        raise ValueError(f"sinkhorn: max_iter must be >= 0, got {max_iter}")
    with torch.no_grad(), autocast_off(cost.device):
        cost = full_precision(cost.detach())
        if not cost.is_floating_point():
            cost = cost.float()
        if cost.numel() == 0:
            return torch.zeros_like(cost)
        log_r, log_c, log_k, _ = _sinkhorn_log_scalings(cost, float(epsilon), int(max_iter), float(tol))
        return (log_r.unsqueeze(-1) + log_k + log_c.unsqueeze(-2)).exp()


def optimal_descriptor_scores(frame_embeds: torch.Tensor, descriptor_embeds: torch.Tensor,
                              epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
                              tol: float = SINKHORN_TOL) -> torch.Tensor:
    """Unscaled Optimal Descriptor Solver score of one descriptor type: `S_pool + S_OT` (OST eqs. (9)-(12)).

    With `V_b` the `T` L2-normalised frame embeddings of video `b` and `D_k` the `N` L2-normalised descriptor
    embeddings of class `k`:

        S[b, k] = mean_t(V_b) . mean_n(D_k)  +  sum_{t, n} P*_{bk}[t, n] (V_b D_k^T)[t, n],
        P*_{bk} = sinkhorn(1 - V_b D_k^T)   (no gradient)

    The means are not renormalised (official code). All `B x K` transport problems are solved as one batch
    (einsum for the `(B, K, T, N)` similarities; memory `O(B K T N)`), and share one stopping test: the rows of
    `descriptor_embeds` are the problems it averages over, so a set given twice weighs twice. The official training
    step passes one set per video of the (all-gathered) batch, duplicates included (`B x B` problems); its
    evaluation, one per class.

    Args:
        frame_embeds: `(B, T, D)` per-frame video embeddings, any norm (L2-normalised here).
        descriptor_embeds: `(K, N, D)` embeddings of `N` descriptors for each of `K` classes, any norm.
        epsilon, max_iter, tol: Sinkhorn settings, see [`sinkhorn`].

    Returns:
        `(B, K)` scores in `[-2, 2]`, differentiable in both embeddings (not through the plan); float32 when an
        input is float16/bfloat16 (autocast disabled).
    """
    if frame_embeds.dim() != 3 or descriptor_embeds.dim() != 3:
        raise ValueError(
            "optimal_descriptor_scores: expected frame_embeds (B, T, D) and descriptor_embeds (K, N, D), got "
            f"{tuple(frame_embeds.shape)} and {tuple(descriptor_embeds.shape)}"
        )
    if frame_embeds.shape[-1] != descriptor_embeds.shape[-1]:
        raise ValueError(
            f"optimal_descriptor_scores: frame_embeds has dimension {frame_embeds.shape[-1]} but descriptor_embeds "
            f"has {descriptor_embeds.shape[-1]}; project both into the same joint space."
        )
    with autocast_off(frame_embeds.device):
        frames = full_precision(frame_embeds)
        descriptors = full_precision(descriptor_embeds)
        dtype = torch.promote_types(frames.dtype, descriptors.dtype)
        frames = F.normalize(frames.to(dtype), dim=-1)  # (B, T, D)
        descriptors = F.normalize(descriptors.to(dtype), dim=-1)  # (K, N, D)
        pooled = frames.mean(dim=1) @ descriptors.mean(dim=1).t()  # (B, K), eq. (9)
        similarity = torch.einsum("btd,knd->bktn", frames, descriptors)  # (B, K, T, N)
        plan = sinkhorn(1.0 - similarity, epsilon=epsilon, max_iter=max_iter, tol=tol)  # eqs. (10)-(11)
        transport = torch.einsum("bktn,bktn->bk", plan, similarity)  # eq. (12)
        return pooled + transport


def optimal_descriptor_logits(frame_embeds: torch.Tensor, spatial_descriptor_embeds: torch.Tensor,
                              temporal_descriptor_embeds: torch.Tensor, logit_scale: torch.Tensor | float,
                              epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
                              tol: float = SINKHORN_TOL) -> torch.Tensor:
    """OST class logits from spatial and temporal descriptors (OST eq. (13) as in the official code).

        logits = exp(logit_scale) * (0.5 * S_s + 0.5 * S_t),    S_x = optimal_descriptor_scores(frames, D_x)

    `logit_scale` follows `modeling_video_clip.scaled_cosine_logits` / `logit_scale_factor`: it is the *log* of
    the multiplier (`VideoClipModel.logit_scale`, `CLIPModel.logit_scale`), exponentiated here without a clamp
    (training bounds the parameter after each optimizer step instead); a tensor stays differentiable. Pass
    `math.log(s)` for a fixed multiplier `s` (e.g. `math.log(100.0)`).

    Args:
        frame_embeds: `(B, T, D)` per-frame video embeddings, any norm.
        spatial_descriptor_embeds: `(K, N_s, D)` spatial descriptor embeddings per class, any norm.
        temporal_descriptor_embeds: `(K, N_t, D)` temporal descriptor embeddings per class, any norm.
        logit_scale: log of the logit multiplier (tensor or float).
        epsilon, max_iter, tol: Sinkhorn settings, see [`sinkhorn`] (spatial and temporal are solved separately).

    Returns:
        `(B, K)` logits; float32 when an input is float16/bfloat16 (autocast disabled).
    """
    if spatial_descriptor_embeds.shape[0] != temporal_descriptor_embeds.shape[0]:
        raise ValueError(
            f"optimal_descriptor_logits: {spatial_descriptor_embeds.shape[0]} classes of spatial descriptors but "
            f"{temporal_descriptor_embeds.shape[0]} of temporal descriptors"
        )
    spatial = optimal_descriptor_scores(frame_embeds, spatial_descriptor_embeds, epsilon, max_iter, tol)
    temporal = optimal_descriptor_scores(frame_embeds, temporal_descriptor_embeds, epsilon, max_iter, tol)
    with autocast_off(spatial.device):
        scores = 0.5 * spatial + 0.5 * temporal
        return logit_scale_factor(logit_scale, scores.dtype) * scores
