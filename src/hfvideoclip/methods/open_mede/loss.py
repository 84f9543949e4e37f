"""Open-MeDe: cross-batch first-order meta-optimisation and Gaussian weight averaging (Open-MeDe, ICCV 2025).

Open-MeDe has no public code; the paper is the spec (section 3, Algorithm 1, section 4.1, eq. (13)).

Meta-optimisation (eqs. (5)-(10)): with a support batch `S` and the following batch as query `Q`,

    theta'  = theta - alpha * grad L_S(theta)                       (fast weights, first order: no graph)
    theta  <- theta - beta * (grad L_S(theta) + delta * grad_{theta'} L_Q(theta'))

[`first_order_meta_step`] returns the bracket, the optimizer applies `beta` as its learning rate. Paper values:
`alpha = beta = 3.33e-6` (cosine-decayed to 3.33e-8, AdamW), `delta = 1.67e-3`, tasks of 8 support + 8 query
clips, 4 tasks per step, no CLIP regulariser.

Gaussian weight average (eqs. (11)-(13)): epoch snapshots `theta_1..theta_R` (CLIP's `theta_0` excluded) are
averaged with weights `w_t = N(t; mu, sigma^2)`, maintained on the fly by [`GaussianRunningAverage`].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from ..common.weight_averaging import RunningAverage

__all__ = [
    "INNER_LEARNING_RATE",
    "OUTER_LEARNING_RATE",
    "FINAL_LEARNING_RATE",
    "QUERY_WEIGHT",
    "default_gaussian_mu",
    "default_gaussian_sigma",
    "gaussian_weights",
    "GaussianRunningAverage",
    "MetaStepOutput",
    "first_order_meta_step",
    "assign_gradients",
]

INNER_LEARNING_RATE = 3.33e-6
"""alpha, the meta-training (inner) step size of eq. (6) (Open-MeDe sec. 4.1)."""

OUTER_LEARNING_RATE = 3.33e-6
"""beta, the outer learning rate of eq. (10): the optimizer's learning rate (AdamW, cosine decay)."""

FINAL_LEARNING_RATE = 3.33e-8
"""alpha and beta at the end of the cosine decay."""

QUERY_WEIGHT = 1.67e-3
"""delta, the weight of the query-batch gradient in eq. (10)."""


# ---------------------------------------------------------------------------------------------------------------
# Gaussian weight average
# ---------------------------------------------------------------------------------------------------------------


def default_gaussian_mu(num_snapshots: int) -> float:
    """Centre of the Gaussian: the middle snapshot, `(R + 1) / 2` on the 1-based index `t = 1..R`.

    The paper says only that mu is set "according to the epoch number" and that GWA gives "lower weights at
    initial epochs, higher weights at middle epochs, and relatively lower weights at final epochs"; the middle of
    the trajectory makes the weights symmetric.
    """
    return (num_snapshots + 1) / 2.0


def default_gaussian_sigma(num_snapshots: int) -> float:
    """Spread of the Gaussian: `R / 4` snapshots.

    The paper gives no value. With mu in the middle, `sigma = R / 4` puts the first and last snapshots two
    standard deviations away, at `exp(-2) ~ 0.14` of the peak weight: early and late epochs are down-weighted but
    still contribute ("relatively lower weights"), and the average spans about the middle half of the trajectory
    whatever the number of snapshots (R = 20 epochs -> sigma = 5; R = 3 -> weights 0.41 : 1 : 0.41). PromptSRC,
    which the paper cites for GWA, uses a narrower sigma = 1 epoch (mean 15 of 20 epochs); pass `sigma=1.0` for
    that behaviour.
    """
    return max(num_snapshots / 4.0, 1e-3)


def gaussian_weights(
    num_snapshots: int, mu: float | None = None, sigma: float | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Normalised GWA coefficients `alpha_t = w_t / sum_i w_i`, `w_t = N(t; mu, sigma^2)`, for `t = 1..R`.

    Args:
        num_snapshots: `R`, the number of snapshots (epochs) averaged; `theta_0` (CLIP) is not included.
        mu: centre on the 1-based snapshot index; default [`default_gaussian_mu`] (`(R + 1) / 2`).
        sigma: standard deviation in snapshots; default [`default_gaussian_sigma`] (`R / 4`).

    Returns:
        `(R,)` non-negative tensor summing to 1.
    """
    if num_snapshots <= 0:
        raise ValueError(f"gaussian_weights: num_snapshots must be positive, got {num_snapshots}.")
    mu = default_gaussian_mu(num_snapshots) if mu is None else float(mu)
    sigma = default_gaussian_sigma(num_snapshots) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"gaussian_weights: sigma must be positive, got {sigma}.")
    t = torch.arange(1, num_snapshots + 1, dtype=torch.float64)
    # Work with log-densities so that a narrow Gaussian far from every snapshot does not underflow to 0 / 0.
    log_w = -((t - mu) ** 2) / (2 * sigma**2) - math.log(math.sqrt(2 * math.pi) * sigma)
    return torch.softmax(log_w, dim=0).to(dtype)


class GaussianRunningAverage(RunningAverage):
    """Open-MeDe's Gaussian weight average, updated snapshot by snapshot with eq. (13):

        theta_GWA <- (sum_{i<t} w_i / sum_{i<=t} w_i) theta_GWA + (w_t / sum_{i<=t} w_i) theta_t

    After all `R` snapshots this equals `sum_t alpha_t theta_t` with `alpha = gaussian_weights(R, mu, sigma)`;
    after `t < R` snapshots it is the same Gaussian average restricted to the snapshots seen so far.

    Args:
        num_snapshots: `R`, known up front (epochs, or `max_steps // every_n_steps`).
        mu, sigma: see [`gaussian_weights`].
        device, dtype: where and in which precision the average is kept (default CPU float32).
    """

    def __init__(
        self,
        num_snapshots: int,
        mu: float | None = None,
        sigma: float | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__(device=device, dtype=dtype)
        self.num_snapshots = num_snapshots
        self.weights = gaussian_weights(num_snapshots, mu, sigma).tolist()

    def update(self, state: Mapping[str, torch.Tensor], weight: float | None = None) -> None:
        """Fold snapshot `theta_t`, `t = num_updates + 1`, into the average with its Gaussian weight."""
        if weight is not None:
            raise ValueError("GaussianRunningAverage.update: the weight comes from the Gaussian; do not pass one.")
        if self.num_updates >= self.num_snapshots:
            raise ValueError(
                f"GaussianRunningAverage.update: already averaged all {self.num_snapshots} snapshots; create it with "
                "the total number of snapshots of the run."
            )
        super().update(state, self.weights[self.num_updates])


# ---------------------------------------------------------------------------------------------------------------
# Cross-batch first-order meta-optimisation
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class MetaStepOutput:
    """Result of [`first_order_meta_step`].

    Attributes:
        gradients: `name -> g_S + delta * g_Q` for every trainable parameter (`requires_grad=True`) of the module,
            same shapes as the parameters.
        support_loss: detached scalar `L_S(theta)`.
        query_loss: detached scalar `L_Q(theta')`.
    """

    gradients: dict[str, torch.Tensor]
    support_loss: torch.Tensor
    query_loss: torch.Tensor


def _grads(loss: torch.Tensor, names: Sequence[str], tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if loss.dim() != 0:
        raise ValueError(f"first_order_meta_step: loss_fn must return a scalar, got shape {tuple(loss.shape)}.")
    if not loss.requires_grad:
        raise ValueError(
            "first_order_meta_step: the loss does not depend on any trainable parameter; make sure loss_fn runs "
            "the module with the parameters it is given (torch.func.functional_call(module, params, ...))."
        )
    grads = torch.autograd.grad(loss, list(tensors), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, tensors)]


def first_order_meta_step(
    module: nn.Module,
    loss_fn: Callable[[dict[str, torch.Tensor], Any], torch.Tensor],
    support_batch: Any,
    query_batch: Any,
    alpha: float = INNER_LEARNING_RATE,
    delta: float = QUERY_WEIGHT,
    loss_scale: float = 1.0,
) -> MetaStepOutput:
    """One cross-batch first-order meta step (Open-MeDe eqs. (5)-(10), Algorithm 1 lines 7-11).

    Computes `g_S = grad L_S(theta)`, the fast weights `theta' = theta - alpha * g_S` (detached: first order, no
    gradient through the inner step), `g_Q = grad_{theta'} L_Q(theta')`, and returns `g_S + delta * g_Q`. Write
    it into `.grad` with [`assign_gradients`] and let the optimizer take the step with learning rate `beta`.

    Only parameters with `requires_grad=True` are adapted and differentiated (full fine-tuning, LoRA, adapters,
    frozen text tower...); frozen parameters and buffers are passed through unchanged. The fast weights are one
    temporary copy of the *trainable* parameters, never registered in an optimizer.

    Args:
        module: the model, unwrapped from DDP/FSDP (gradients are not all-reduced here: reduce them, e.g. with
            `accelerator.reduce`, or let the DDP-wrapped backward of your loss do it).
        loss_fn: `loss_fn(params_and_buffers, batch) -> scalar`, where `params_and_buffers` maps every name of
            `module.named_parameters()` and `module.named_buffers()` to a tensor; it must run the module with
            those tensors, typically `torch.func.functional_call(module, params_and_buffers, args, kwargs)`.
        support_batch: the batch of meta-training (any object, passed to `loss_fn`).
        query_batch: the batch of meta-testing.
        alpha: inner step size (paper: 3.33e-6, decayed with the learning-rate schedule).
        delta: weight of the query gradient (paper: 1.67e-3).
        loss_scale: mixed-precision loss scale (fp16's `GradScaler.get_scale()`): the returned gradients are those of
            `loss_scale * L`, as an ordinary scaled backward leaves them for the scaler to unscale; the fast weights use
            the true `g_S`. 1.0 without loss scaling.

    Returns:
        [`MetaStepOutput`] with the combined gradients and both losses.
    """
    trainable = {name: p for name, p in module.named_parameters() if p.requires_grad}
    if not trainable:
        raise ValueError(
            "first_order_meta_step: the module has no trainable parameters (requires_grad=True); unfreeze the "
            "parameters to adapt."
        )
    frozen = {name: p.detach() for name, p in module.named_parameters() if not p.requires_grad}
    buffers = dict(module.named_buffers())
    names = list(trainable)

    support_loss = loss_fn({**trainable, **frozen, **buffers}, support_batch)
    support_grads = _grads(support_loss * loss_scale, names, [trainable[n] for n in names])

    with torch.no_grad():
        fast = {n: (trainable[n].detach() - (alpha / loss_scale) * g.to(trainable[n].dtype)).requires_grad_(True)
                for n, g in zip(names, support_grads)}
    query_loss = loss_fn({**fast, **frozen, **buffers}, query_batch)
    query_grads = _grads(query_loss * loss_scale, names, [fast[n] for n in names])
    del fast

    gradients = {n: gs.add_(gq, alpha=delta) for n, gs, gq in zip(names, support_grads, query_grads)}
    return MetaStepOutput(gradients, support_loss.detach(), query_loss.detach())


@torch.no_grad()
def assign_gradients(module: nn.Module, gradients: Mapping[str, torch.Tensor], accumulate: bool = True) -> None:
    """Write `gradients` (`name -> tensor`) into the `.grad` of the module's parameters.

    With `accumulate=True` they are added to existing gradients (gradient accumulation); otherwise they replace
    them. Unknown names raise a ValueError.
    """
    params = dict(module.named_parameters())
    unknown = [n for n in gradients if n not in params]
    if unknown:
        raise ValueError(f"assign_gradients: no parameter named {unknown[:5]} in the module.")
    for name, grad in gradients.items():
        param = params[name]
        grad = grad.to(device=param.device, dtype=param.dtype)
        if param.grad is None or not accumulate:
            param.grad = grad.clone()
        else:
            param.grad.add_(grad)
