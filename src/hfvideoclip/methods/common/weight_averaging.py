"""Weight-space averaging and ensembling of state dicts.

Pure functions over `{name: tensor}` mappings, shared by the methods that average or patch weights:

- Open-VCLIP (test-time patching `0.5 * CLIP + 0.5 * SWA`), OST (`0.2 * CLIP + 0.8 * fine-tuned`) and TACO's
  weight ensemble use [`weight_space_ensemble`];
- FROSTER's uniform average of epoch checkpoints uses [`UniformAverage`] (streaming) or
  [`average_state_dicts`] (all snapshots in memory);
- Open-MeDe's Gaussian weight average is a [`RunningAverage`] fed with Gaussian weights
  (`hfvideoclip.methods.open_mede.loss.GaussianRunningAverage`).

Floating-point entries are combined in float32 (or float64 when an input is float64) and cast back to the dtype of
the first state dict; non-floating entries (integer buffers such as `position_ids`) must agree and are copied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["average_state_dicts", "weight_space_ensemble", "RunningAverage", "UniformAverage"]


def _check_same_keys(state_dicts: Sequence[Mapping[str, torch.Tensor]], what: str) -> None:
    reference = set(state_dicts[0])
    for index, state in enumerate(state_dicts[1:], start=1):
        keys = set(state)
        if keys != reference:
            missing = sorted(reference - keys)[:5]
            extra = sorted(keys - reference)[:5]
            raise ValueError(
                f"{what}: state dict {index} does not have the same keys as state dict 0 "
                f"(missing {missing}, unexpected {extra}); pass state dicts of the same model, or filter them to "
                "common keys first."
            )


def _accumulation_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def average_state_dicts(
    state_dicts: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float] | torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Weighted average `sum_k w_k theta_k / sum_k w_k` of state dicts with identical keys.

    Args:
        state_dicts: `K` mappings `name -> tensor`; tensors of one name share a shape.
        weights: `K` non-negative weights (not necessarily normalised); uniform when `None`.

    Returns:
        A new state dict on the device and in the dtype of `state_dicts[0]`.
    """
    if len(state_dicts) == 0:
        raise ValueError("average_state_dicts: got no state dicts; pass at least one.")
    _check_same_keys(state_dicts, "average_state_dicts")
    if weights is None:
        weights = [1.0] * len(state_dicts)
    weights = [float(w) for w in (weights.tolist() if isinstance(weights, torch.Tensor) else weights)]
    if len(weights) != len(state_dicts):
        raise ValueError(
            f"average_state_dicts: got {len(weights)} weights for {len(state_dicts)} state dicts; pass one weight "
            "per state dict."
        )
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"average_state_dicts: weights must be non-negative with a positive sum, got {weights}.")
    total = sum(weights)
    averaged = {}
    for name, first in state_dicts[0].items():
        if not torch.is_floating_point(first):
            for state in state_dicts[1:]:
                if not torch.equal(state[name].to(first.device), first):
                    raise ValueError(
                        f"average_state_dicts: non-floating entry {name!r} differs between state dicts and cannot "
                        "be averaged."
                    )
            averaged[name] = first.detach().clone()
            continue
        dtype = _accumulation_dtype(first)
        accumulator = torch.zeros(first.shape, dtype=dtype, device=first.device)
        for weight, state in zip(weights, state_dicts):
            accumulator.add_(state[name].detach().to(device=first.device, dtype=dtype), alpha=weight / total)
        averaged[name] = accumulator.to(first.dtype)
    return averaged


def weight_space_ensemble(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """Linear interpolation `alpha * a + (1 - alpha) * b` of two state dicts with identical keys.

    With `a` the fine-tuned and `b` the zero-shot (CLIP) weights this is WiSE-FT / model patching: Open-VCLIP and
    TACO use `alpha = 0.5`, OST `alpha = 0.8` (`0.2 * CLIP + 0.8 * fine-tuned`). `alpha = 1` returns `a`.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"weight_space_ensemble: alpha must be in [0, 1], got {alpha}.")
    return average_state_dicts([a, b], [float(alpha), 1.0 - float(alpha)])


class RunningAverage:
    """Streaming weighted average of state dicts (Open-MeDe eq. (13) for arbitrary weights).

    After updates with `(theta_1, w_1), ..., (theta_t, w_t)` the average is `sum_i w_i theta_i / sum_i w_i`,
    maintained without storing the snapshots:

        theta_avg <- (S_{t-1} / S_t) * theta_avg + (w_t / S_t) * theta_t,    S_t = sum_{i<=t} w_i.

    Args:
        device: where the average lives (default CPU, so GPU memory holds a single copy of the model).
        dtype: floating dtype of the average (default float32, whatever the model's dtype).

    The average covers the keys of the first snapshot; later snapshots must have the same keys. Non-floating
    entries are copied from the latest snapshot.
    """

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype
        self.average: dict[str, torch.Tensor] | None = None
        self.weight_sum = 0.0
        self.num_updates = 0

    @torch.no_grad()
    def update(self, state: Mapping[str, torch.Tensor], weight: float = 1.0) -> None:
        """Fold one snapshot `state` (`name -> tensor`) with weight `weight >= 0` into the average."""
        weight = float(weight)
        if weight < 0:
            raise ValueError(f"RunningAverage.update: weight must be non-negative, got {weight}.")
        if self.average is not None and set(state) != set(self.average):
            missing = sorted(set(self.average) - set(state))[:5]
            extra = sorted(set(state) - set(self.average))[:5]
            raise ValueError(
                f"RunningAverage.update: snapshot keys differ from the first snapshot (missing {missing}, "
                f"unexpected {extra}); average the same set of parameters at every step."
            )
        new_sum = self.weight_sum + weight
        if self.average is None:
            self.average = {}
            for name, value in state.items():
                value = value.detach().to(self.device)
                self.average[name] = value.to(self.dtype).clone() if torch.is_floating_point(value) else value.clone()
        elif new_sum > 0:
            keep, take = self.weight_sum / new_sum, weight / new_sum
            for name, value in state.items():
                value = value.detach().to(self.device)
                if torch.is_floating_point(value):
                    self.average[name].mul_(keep).add_(value.to(self.dtype), alpha=take)
                else:
                    self.average[name] = value.clone()
        self.weight_sum = new_sum
        self.num_updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The current average (a reference, not a copy); empty before the first update."""
        return {} if self.average is None else self.average

    def load(self, average: Mapping[str, torch.Tensor], weight_sum: float, num_updates: int) -> None:
        """Restore an average saved from `state_dict()` together with its `weight_sum` and `num_updates`."""
        self.average = (
            {k: (v.to(self.device, self.dtype) if torch.is_floating_point(v) else v.to(self.device)).clone()
             for k, v in average.items()}
            if num_updates > 0
            else None
        )
        self.weight_sum = float(weight_sum)
        self.num_updates = int(num_updates)


class UniformAverage(RunningAverage):
    """Running mean of snapshots (stochastic weight averaging / FROSTER's epoch averaging): every weight is 1."""

    def update(self, state: Mapping[str, torch.Tensor], weight: float = 1.0) -> None:  # noqa: D401
        if float(weight) != 1.0:
            raise ValueError("UniformAverage.update: weights are all 1; use RunningAverage for weighted averages.")
        super().update(state, 1.0)
