"""Open-VCLIP: interpolated weight optimisation and test-time weight patching (Weng et al., ICML 2023).

At every step a ratio `r ~ U(0, 0.6)` is drawn and the loss is also computed at the interpolated weights
`r * theta_CLIP + (1 - r) * theta`; its gradients (weight 0.5) are added to those of the normal loss, which
flattens the loss along the line to CLIP. At test time the averaged (SWA) weights are patched with CLIP:
`0.5 * theta_CLIP + 0.5 * theta_SWA`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn as nn

from ..common.weight_averaging import weight_space_ensemble

__all__ = [
    "INTERPOLATION_LOSS_WEIGHT",
    "INTERPOLATION_RATIO_HIGH",
    "PATCH_ALPHA",
    "interpolate_state",
    "sample_interpolation_ratio",
    "interpolated_weight_loss",
    "patch_weights",
]

INTERPOLATION_LOSS_WEIGHT = 0.5
"""Weight of the loss at the interpolated weights, added to the normal loss."""

INTERPOLATION_RATIO_HIGH = 0.6
"""Upper bound of the interpolation ratio `r ~ U(0, 0.6)` (weight of CLIP in the interpolated weights)."""

PATCH_ALPHA = 0.5
"""Weight of the fine-tuned (SWA) weights in test-time patching: `0.5 * fine-tuned + 0.5 * CLIP`."""


def interpolate_state(
    current: Mapping[str, torch.Tensor], anchor: Mapping[str, torch.Tensor], r: float | torch.Tensor,
    straight_through: bool = False,
) -> dict[str, torch.Tensor]:
    """`r * anchor + (1 - r) * current` for every key of `current`.

    Differentiable in `current`: by the chain rule the live parameters receive `(1 - r) * dL/dtheta_r`; with
    `straight_through=True` they receive `dL/dtheta_r` itself (the value is the same, the interpolation offset is
    a constant), which is what Open-VCLIP's official code adds (its `(1 - r)` factor is commented out);
    `anchor` (e.g. the CLIP weights) is treated as a constant. `anchor` may hold more keys than `current` (a full
    CLIP state dict for a subset of trainable parameters) but must hold all of them. Anchor tensors are moved to
    the device and dtype of the matching current tensor.

    Returns:
        `name -> tensor` with the keys of `current`.
    """
    missing = [k for k in current if k not in anchor]
    if missing:
        raise ValueError(
            f"interpolate_state: the anchor state has no entry for {missing[:5]} ({len(missing)} missing); pass the "
            "zero-shot weights of the same parameters."
        )
    out = {}
    for name, value in current.items():
        target = anchor[name].detach().to(device=value.device, dtype=value.dtype)
        if target.shape != value.shape:
            raise ValueError(
                f"interpolate_state: {name!r} has shape {tuple(value.shape)} but the anchor has "
                f"{tuple(target.shape)}."
            )
        if not torch.is_floating_point(value):
            out[name] = value
        elif straight_through:
            out[name] = value + (r * (target - value)).detach()
        else:
            out[name] = value + r * (target - value)
    return out


def sample_interpolation_ratio(
    generator: torch.Generator | None = None, high: float = INTERPOLATION_RATIO_HIGH, low: float = 0.0
) -> float:
    """Draw `r ~ U(low, high)` (default `U(0, 0.6)`) with an optional seeded CPU generator."""
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"sample_interpolation_ratio: need 0 <= low <= high <= 1, got low={low}, high={high}.")
    u = torch.rand((), generator=generator, dtype=torch.float64).item()
    return low + (high - low) * u


def interpolated_weight_loss(
    module: nn.Module,
    loss_fn: Callable[[dict[str, torch.Tensor], Any], torch.Tensor],
    batch: Any,
    anchor: Mapping[str, torch.Tensor],
    ratio: float,
    straight_through: bool = True,
) -> torch.Tensor:
    """Loss at the interpolated weights `ratio * anchor + (1 - ratio) * theta` of the trainable parameters.

    Args:
        module: the model (unwrapped); only parameters with `requires_grad=True` are interpolated, frozen ones
            and buffers are used as they are.
        loss_fn: `loss_fn(params_and_buffers, batch) -> scalar` running the module functionally, the same
            convention as `hfvideoclip.methods.open_mede.loss.first_order_meta_step`.
        batch: passed to `loss_fn`.
        anchor: zero-shot weights, `name -> tensor`, covering every trainable parameter.
        ratio: `r`, e.g. from [`sample_interpolation_ratio`].
        straight_through: add the gradient at the interpolated weights as it is (official Open-VCLIP, default);
            False applies the chain-rule factor `(1 - r)` (an effective weight of `0.5 * (1 - r)`, 0.35 on average).

    Returns:
        Scalar loss, differentiable w.r.t. the trainable parameters; add `INTERPOLATION_LOSS_WEIGHT` times it to
        the normal loss before `backward()`.
    """
    params = dict(module.named_parameters())
    trainable = {n: p for n, p in params.items() if p.requires_grad}
    frozen = {n: p for n, p in params.items() if not p.requires_grad}
    mixed = interpolate_state(trainable, anchor, ratio, straight_through=straight_through)
    return loss_fn({**mixed, **frozen, **dict(module.named_buffers())}, batch)


def patch_weights(
    finetuned: Mapping[str, torch.Tensor], zero_shot: Mapping[str, torch.Tensor], alpha: float = PATCH_ALPHA
) -> dict[str, torch.Tensor]:
    """Test-time patching `alpha * finetuned + (1 - alpha) * zero_shot` (WiSE-FT convention)."""
    return weight_space_ensemble(finetuned, zero_shot, alpha)
