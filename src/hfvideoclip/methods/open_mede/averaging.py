"""Open-MeDe's Gaussian weight averaging (GWA) as a Trainer callback: snapshots of the trainable parameters weighted by a
Gaussian over the snapshot index, checkpointed with the run (`hfvideoclip.methods.common.averaging_callbacks`)."""

from __future__ import annotations

import logging
import math

import torch
from transformers import TrainerState

from ..common.averaging_callbacks import AveragingCallback, ParamsFilter
from .loss import GaussianRunningAverage

logger = logging.getLogger(__name__)


class GaussianWeightAveragingCallback(AveragingCallback):
    """Open-MeDe's Gaussian weight average (GWA, eq. (13)) of the trainable parameters over the run.

    A snapshot is taken at each epoch end (or every `every_n_steps` optimizer steps); snapshot `t` of `R` gets
    weight `w_t = N(t; mu, sigma^2)`, and the running average is updated with eq. (13) in CPU float32. `R` is
    known at train begin (`state.num_train_epochs`, or `state.max_steps // every_n_steps`), so the weights are
    computed up front with `hfvideoclip.methods.open_mede.loss.gaussian_weights`. The pre-trained weights
    (`theta_0`) are not included.

    Args:
        mu: centre on the 1-based snapshot index; default the middle snapshot `(R + 1) / 2`.
        sigma: standard deviation in snapshots; default `R / 4` (see `open_mede.default_gaussian_sigma`).
        every_n_steps: snapshot period in optimizer steps; `None` = at every epoch end (the paper).
        apply_at_end: load the average into the model in `on_train_end` (then `trainer.save_model()` saves it).
        params_filter: restrict the averaged parameters (regex or callable on names); trainable ones only.
        name: file name in checkpoints (`<name>.safetensors`).
    """

    def __init__(
        self,
        mu: float | None = None,
        sigma: float | None = None,
        every_n_steps: int | None = None,
        apply_at_end: bool = True,
        params_filter: ParamsFilter = None,
        name: str = "gaussian_weight_average",
    ):
        super().__init__(name, params_filter, apply_at_end)
        if every_n_steps is not None and int(every_n_steps) <= 0:
            raise ValueError(f"GaussianWeightAveragingCallback: every_n_steps must be positive, got {every_n_steps}.")
        if sigma is not None and not float(sigma) > 0:
            raise ValueError(f"GaussianWeightAveragingCallback: sigma must be positive, got {sigma}.")
        self.mu = None if mu is None else float(mu)
        self.sigma = None if sigma is None else float(sigma)
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.num_snapshots: int | None = None
        self.weights: list[float] | None = None

    def total_snapshots(self, state: TrainerState) -> int:
        """`R`: epochs of the run, or `max_steps // every_n_steps`."""
        if self.every_n_steps is not None:
            return max(int(state.max_steps) // self.every_n_steps, 1)
        return max(int(math.ceil(state.num_train_epochs)), 1)

    def on_train_begin(self, args, state, control, **kwargs):
        self._begin(args, state)
        total = self.total_snapshots(state)
        if self.num_updates > 0 and self.num_snapshots not in (None, total):
            logger.warning(
                "GaussianWeightAveragingCallback(%r): the checkpoint planned %d snapshots, this run %d; the "
                "Gaussian weights of the remaining snapshots follow the new plan.", self.name, self.num_snapshots,
                total,
            )
        # The running average itself is Open-MeDe's eq. (13) (`GaussianRunningAverage`), carrying over what a
        # checkpoint restored.
        restored = self._average
        self._average = GaussianRunningAverage(total, self.mu, self.sigma, device="cpu", dtype=torch.float32)
        self._average.load(restored.state_dict(), restored.weight_sum, restored.num_updates)
        self.num_snapshots = total
        self.weights = self._average.weights

    def _take_snapshot(self, model) -> None:
        if self.weights is None:
            raise ValueError("GaussianWeightAveragingCallback: snapshot before on_train_begin.")
        t = self.num_updates  # 0-based index of this snapshot
        if t >= len(self.weights):
            logger.warning("GaussianWeightAveragingCallback(%r): more snapshots than the %d planned; ignoring.",
                           self.name, len(self.weights))
            return
        self._average.update(self._checked_snapshot(model))  # weight w_t from the Gaussian

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if self.every_n_steps is None:
            self._take_snapshot(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every_n_steps is not None and state.global_step % self.every_n_steps == 0:
            self._take_snapshot(model)

    def _args(self):
        return {"mu": self.mu, "sigma": self.sigma, "every_n_steps": self.every_n_steps,
                "apply_at_end": self.apply_at_end}

    def _attributes(self):
        return {"num_snapshots": self.num_snapshots, "num_updates": self.num_updates, "weight_sum": self.weight_sum}

    def _load_tensors(self, tensors, attributes):
        super()._load_tensors(tensors, attributes)
        self.num_snapshots = attributes.get("num_snapshots")

    def _take_state_from(self, other):
        super()._take_state_from(other)
        self.num_snapshots = other.num_snapshots


__all__ = ["GaussianWeightAveragingCallback"]
