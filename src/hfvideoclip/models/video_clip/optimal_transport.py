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

Uneven descriptor counts (an extension; the official code needs the same `N` for every class): the sets are padded
to one `N` and a boolean mask `(K, N)` marks the real descriptors. A padded column gets kernel 0 (log-kernel -inf)
and column marginal 0, the `N_k` real columns `1/N_k` each, and the pooled term averages the real descriptors only,
so a padded class scores as its unpadded set alone would. The stopping test is unchanged (it reads `r`, one entry
per frame), and an all-true mask takes the official path exactly.
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


def _sinkhorn_log_scalings(cost: torch.Tensor, epsilon: float, max_iter: int, tol: float,
                           column_mask: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Sinkhorn-Knopp in the log domain: `(log r, log c, log K, iterations run)` with `P = diag(r) K diag(c)`.

    Same iterates as the plain algorithm (`r = mu / (K c)`, `c = nu / (K^T r)`, from `r = c = 1`), but the
    matrix-vector products are log-sum-exps, so a kernel entry or a scaling that would under/overflow in float32
    (small `epsilon`, large costs) does not turn into `0 / 0`. The stopping test needs `r` itself; where `r`
    overflows the test reads NaN/inf, which counts as "not converged" (the loop then runs `max_iter` iterations).
    Expects float32/float64 `cost`, called without gradient.

    `column_mask` (bool, broadcastable to `(..., N)`, at least one true per problem): false columns are padding,
    with `log K = -inf` and `log c = -inf` (marginal 0); the true ones get marginal `1/N_k`. Padded columns never
    subtract -inf from -inf (their column sums are replaced by 0 before the subtraction), so nothing turns NaN.
    """
    num_rows, num_cols = cost.shape[-2], cost.shape[-1]
    log_k = -cost / epsilon  # (..., T, N)
    log_mu = -math.log(num_rows)
    log_nu = -math.log(num_cols)
    if column_mask is not None:
        valid = column_mask.to(device=cost.device, dtype=torch.bool)  # (..., N)
        log_k = log_k.masked_fill(~valid.unsqueeze(-2), -math.inf)
        log_nu = -valid.sum(-1, keepdim=True).to(cost.dtype).log()  # (..., 1): 1/N_k per problem
    log_r = cost.new_zeros(cost.shape[:-1])  # (..., T)
    log_c = cost.new_zeros(cost.shape[:-2] + (num_cols,))  # (..., N)
    r = torch.ones_like(log_r)
    iterations = 0
    for _ in range(max_iter):
        iterations += 1
        r_prev = r
        log_r = log_mu - torch.logsumexp(log_k + log_c.unsqueeze(-2), dim=-1)
        column_sums = torch.logsumexp(log_k + log_r.unsqueeze(-1), dim=-2)  # (..., N); -inf on padded columns
        if column_mask is None:
            log_c = log_nu - column_sums
        else:
            log_c = (log_nu - column_sums.masked_fill(~valid, 0.0)).masked_fill(~valid, -math.inf)
        r = log_r.exp()
        err = (r - r_prev).abs().mean()
        if err.item() < tol:  # NaN (inf - inf) compares False: keep iterating
            break
    return log_r, log_c, log_k, iterations


def sinkhorn(cost: torch.Tensor, epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
             tol: float = SINKHORN_TOL, column_mask: torch.Tensor | None = None) -> torch.Tensor:
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
        column_mask: optional bool `(..., N)` (broadcastable to `cost.shape[:-2] + (N,)`), true for real columns
            (descriptors), false for padding: padded columns get kernel 0 and marginal 0, the `N_k` real ones
            `1/N_k`. Every problem needs at least one real column. None: every column is real (official OST).

    Returns:
        `(..., T, N)` transport plans (float32 for half inputs, no `grad_fn`): rows sum to ~`1/T`, columns to `1/N`
        (`1/N_k` on real columns and exactly 0 on padded ones under a `column_mask`).
    """
    if cost.dim() < 2:
        raise ValueError(f"sinkhorn: expected a (..., T, N) cost, got shape {tuple(cost.shape)}")
    if not epsilon > 0:
        raise ValueError(f"sinkhorn: epsilon must be positive, got {epsilon}")
    if max_iter < 0:
        raise ValueError(f"sinkhorn: max_iter must be >= 0, got {max_iter}")
    column_mask = _check_column_mask(column_mask, cost.shape, "sinkhorn")
    with torch.no_grad(), autocast_off(cost.device):
        cost = full_precision(cost.detach())
        if not cost.is_floating_point():
            cost = cost.float()
        if cost.numel() == 0:
            return torch.zeros_like(cost)
        log_r, log_c, log_k, _ = _sinkhorn_log_scalings(cost, float(epsilon), int(max_iter), float(tol),
                                                        column_mask)
        return (log_r.unsqueeze(-1) + log_k + log_c.unsqueeze(-2)).exp()


def _check_column_mask(mask: torch.Tensor | None, cost_shape: torch.Size, caller: str) -> torch.Tensor | None:
    """`mask` as bool, checked against `(..., T, N)` costs: None stays None; ValueError naming the fix otherwise."""
    if mask is None:
        return None
    if mask.dtype != torch.bool:
        raise ValueError(f"{caller}: the descriptor mask must be a bool tensor (true for real descriptors), got "
                         f"{mask.dtype}.")
    target = tuple(cost_shape[:-2]) + (cost_shape[-1],)
    try:
        broadcast = torch.broadcast_shapes(tuple(mask.shape), target)
    except RuntimeError:
        broadcast = None
    if broadcast != target:
        raise ValueError(f"{caller}: the descriptor mask has shape {tuple(mask.shape)}, which does not broadcast to "
                         f"{target} (the problems' (..., N)); pass one row of N flags per descriptor set.")
    if mask.numel() and not bool(mask.any(dim=-1).all()):
        raise ValueError(f"{caller}: a descriptor set has no real descriptor (its mask row is all false); give "
                         "every class at least one descriptor.")
    return mask


def optimal_descriptor_scores(frame_embeds: torch.Tensor, descriptor_embeds: torch.Tensor,
                              epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
                              tol: float = SINKHORN_TOL, descriptor_mask: torch.Tensor | None = None
                              ) -> torch.Tensor:
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
        descriptor_mask: optional bool `(K, N)`, true for class `k`'s `N_k` real descriptors, false for padding
            (uneven counts): `mean_n` runs over the real ones and the plan's padded columns are 0 (column marginal
            `1/N_k`), so class `k` scores as its unpadded `(N_k, D)` set would. None or all true: the official
            computation.

    Returns:
        `(B, K)` scores in `[-2, 2]`, differentiable in both embeddings (not through the plan; padded descriptors
        get no gradient); float32 when an input is float16/bfloat16 (autocast disabled).
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
    if descriptor_mask is not None and tuple(descriptor_mask.shape) != tuple(descriptor_embeds.shape[:2]):
        raise ValueError(f"optimal_descriptor_scores: descriptor_mask has shape {tuple(descriptor_mask.shape)} but "
                         f"descriptor_embeds holds {tuple(descriptor_embeds.shape[:2])} (K, N) sets; pass one flag "
                         "per descriptor.")
    descriptor_mask = _check_column_mask(descriptor_mask, descriptor_embeds.shape[:1] + (1,)
                                         + descriptor_embeds.shape[1:2], "optimal_descriptor_scores")
    if descriptor_mask is not None and bool(descriptor_mask.all()):
        descriptor_mask = None  # nothing padded: the official computation, exactly
    with autocast_off(frame_embeds.device):
        frames = full_precision(frame_embeds)
        descriptors = full_precision(descriptor_embeds)
        dtype = torch.promote_types(frames.dtype, descriptors.dtype)
        frames = F.normalize(frames.to(dtype), dim=-1)  # (B, T, D)
        descriptors = F.normalize(descriptors.to(dtype), dim=-1)  # (K, N, D)
        if descriptor_mask is None:
            mean_descriptors = descriptors.mean(dim=1)  # (K, D)
        else:  # the mean of the real descriptors only
            weights = descriptor_mask.to(device=descriptors.device, dtype=dtype)  # (K, N)
            mean_descriptors = (descriptors * weights.unsqueeze(-1)).sum(dim=1) / weights.sum(dim=1, keepdim=True)
        pooled = frames.mean(dim=1) @ mean_descriptors.t()  # (B, K), eq. (9)
        similarity = torch.einsum("btd,knd->bktn", frames, descriptors)  # (B, K, T, N)
        plan = sinkhorn(1.0 - similarity, epsilon=epsilon, max_iter=max_iter, tol=tol,
                        column_mask=descriptor_mask)  # eqs. (10)-(11); (K, N) broadcasts over the videos
        transport = torch.einsum("bktn,bktn->bk", plan, similarity)  # eq. (12)
        return pooled + transport


def optimal_descriptor_logits(frame_embeds: torch.Tensor, spatial_descriptor_embeds: torch.Tensor,
                              temporal_descriptor_embeds: torch.Tensor, logit_scale: torch.Tensor | float,
                              epsilon: float = SINKHORN_EPSILON, max_iter: int = SINKHORN_MAX_ITER,
                              tol: float = SINKHORN_TOL, spatial_mask: torch.Tensor | None = None,
                              temporal_mask: torch.Tensor | None = None) -> torch.Tensor:
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
        spatial_mask, temporal_mask: optional bool `(K, N_s)` / `(K, N_t)`, true for real descriptors, false for
            padding of uneven counts (see [`optimal_descriptor_scores`]).

    Returns:
        `(B, K)` logits; float32 when an input is float16/bfloat16 (autocast disabled).
    """
    if spatial_descriptor_embeds.shape[0] != temporal_descriptor_embeds.shape[0]:
        raise ValueError(
            f"optimal_descriptor_logits: {spatial_descriptor_embeds.shape[0]} classes of spatial descriptors but "
            f"{temporal_descriptor_embeds.shape[0]} of temporal descriptors"
        )
    spatial = optimal_descriptor_scores(frame_embeds, spatial_descriptor_embeds, epsilon, max_iter, tol,
                                        descriptor_mask=spatial_mask)
    temporal = optimal_descriptor_scores(frame_embeds, temporal_descriptor_embeds, epsilon, max_iter, tol,
                                         descriptor_mask=temporal_mask)
    with autocast_off(spatial.device):
        scores = 0.5 * spatial + 0.5 * temporal
        return logit_scale_factor(logit_scale, scores.dtype) * scores
