"""Trainer callbacks that keep extra weights: `AveragingCallback`, the checkpointed running average they share, and
uniform averaging of epoch snapshots (FROSTER cross-dataset, Open-VCLIP SWA). Open-MeDe's Gaussian weight
averaging builds on it in its own folder (`hfvideoclip.methods.open_mede.averaging`). TACO's EMA teacher lives in
its objective module instead (`hfvideoclip.methods.taco.objective`), so Trainer checkpoints hold it with the model.

Both are `transformers.TrainerCallback`s and `ExportableState`s, and they survive Trainer checkpoints:

- `state()` returns JSON-friendly constructor arguments and counters; transformers stores it in
  `trainer_state.json["stateful_callbacks"]` and, with `restore_callback_states_from_checkpoint=True`, rebuilds
  the callback from it (the rebuilt callback takes what JSON cannot hold from the callback it replaces);
- the tensors (running averages) are written by `on_save` to
  `<output_dir>/checkpoint-<step>/<name>.safetensors` (with the JSON state in the file's metadata);
- on resume, `on_train_begin` reloads that file from `<output_dir>/checkpoint-<global_step>` (or from
  `args.resume_from_checkpoint`). When the checkpoint lives elsewhere call `callback.load_from_checkpoint(dir)`
  before `trainer.train(resume_from_checkpoint=dir)`.

Every callback unwraps the `model` it receives with `accelerate.utils.extract_model_from_parallel` (DDP,
DeepSpeed, `torch.compile`), gathers FSDP-1 parameters with `summon_full_params` and FSDP-2 `DTensor`s with
`full_tensor()`, so names and values are those of the plain model on every process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn
from accelerate.utils import extract_model_from_parallel
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_callback import ExportableState
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .weight_averaging import RunningAverage, UniformAverage

__all__ = [
    "AveragingCallback",
    "EpochAveragingCallback",
    "unwrap_model",
]

logger = logging.getLogger(__name__)

ParamsFilter = str | Callable[[str], bool] | None
_CALLABLE_FILTER = "<callable>"  # stands for a callable filter in `state()`; taken back from the live callback

# Most recent live callback per (class name, name): a callback rebuilt by the Trainer from its JSON state takes the
# objects that JSON cannot hold (callable filter, tensors loaded before `train()`) from it.
_LIVE: dict[tuple[str, str], weakref.ref] = {}


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DDP / DataParallel / DeepSpeed / FSDP / `torch.compile` wrappers."""
    return extract_model_from_parallel(model, keep_torch_compile=False)


def _fsdp_class():
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:  # pragma: no cover - torch built without distributed
        return None
    return FullyShardedDataParallel


@contextlib.contextmanager
def _full_parameters(model: nn.Module, writeback: bool = False) -> Iterator[nn.Module]:
    """Yield the unwrapped model with FSDP-1 parameters gathered (written back when `writeback`)."""
    fsdp = _fsdp_class()
    if fsdp is not None and isinstance(model, fsdp):
        with fsdp.summon_full_params(model, writeback=writeback):
            yield unwrap_model(model)
    else:
        yield unwrap_model(model)


def _full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor, gathering an FSDP-2 `DTensor` shard."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


@torch.no_grad()
def _copy_into(target: torch.Tensor, value: torch.Tensor) -> None:
    """`target.copy_(value)` for plain tensors and `DTensor`s (the matching shard of `value` is taken)."""
    if hasattr(target, "device_mesh") and hasattr(target, "placements"):
        from torch.distributed.tensor import distribute_tensor

        value = distribute_tensor(value.to(target.dtype), target.device_mesh, target.placements)
    target.copy_(value.to(device=target.device, dtype=target.dtype))


def _compile_filter(params_filter: ParamsFilter) -> Callable[[str], bool]:
    if params_filter is None:
        return lambda name: True
    if isinstance(params_filter, str):
        pattern = re.compile(params_filter)
        return lambda name: pattern.search(name) is not None
    if callable(params_filter):
        return params_filter
    raise ValueError(
        f"params_filter must be None, a regular expression or a callable name -> bool, got {params_filter!r}."
    )


def _saved_step(file: str) -> int | None:
    """Global step recorded in a callback file's metadata (None if unknown)."""
    with safe_open(file, framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("global_step", "null"))


class _CheckpointableCallback(TrainerCallback, ExportableState):
    """Shared save/load/resume machinery. Subclasses implement `_args`, `_attributes`, `_tensors`,
    `_load_tensors`, `_reset` and `_take_state_from`."""

    def __init__(self, name: str, params_filter: ParamsFilter):
        if not isinstance(name, str) or not name or os.sep in name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty file name, got {name!r}.")
        self.name = name
        key = (type(self).__name__, name)
        previous = _LIVE.get(key)
        predecessor = previous() if previous is not None else None
        _LIVE[key] = weakref.ref(self)
        # Weak reference only (no chain of old callbacks kept alive), except to a predecessor that was restored
        # from a checkpoint: this callback may be its replacement built by the Trainer, and takes its state over.
        self._predecessor_ref = previous
        self._inherited = predecessor if predecessor is not None and predecessor._restored_step is not None else None
        if params_filter == _CALLABLE_FILTER:
            if predecessor is None or not callable(predecessor.params_filter):
                raise ValueError(
                    f"{type(self).__name__}({name!r}) was saved with a callable params_filter, which cannot be "
                    "restored from JSON; construct the callback with the callable again."
                )
            params_filter = predecessor.params_filter
        self.params_filter = params_filter
        self._keep = _compile_filter(params_filter)
        self._restored_step: int | None = None  # global step of the checkpoint this state was loaded from

    # -- subclass hooks ---------------------------------------------------------------------------------------
    def _args(self) -> dict[str, Any]:
        raise NotImplementedError

    def _attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _load_tensors(self, tensors: dict[str, torch.Tensor], attributes: dict[str, Any]) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError

    def _take_state_from(self, other: _CheckpointableCallback) -> None:
        raise NotImplementedError

    # -- ExportableState --------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON state for `trainer_state.json`: `{"args": constructor kwargs, "attributes": counters}`."""
        args = self._args()
        args["name"] = self.name
        args["params_filter"] = _CALLABLE_FILTER if callable(self.params_filter) else self.params_filter
        return {"args": args, "attributes": self._attributes()}

    # -- files ------------------------------------------------------------------------------------------------
    def checkpoint_file(self, checkpoint_dir: str | os.PathLike) -> str:
        """Path of this callback's file inside a checkpoint directory: `<dir>/<name>.safetensors`."""
        return os.path.join(os.fspath(checkpoint_dir), f"{self.name}.safetensors")

    def _resolve(self, path: str | os.PathLike) -> str:
        path = os.fspath(path)
        return path if path.endswith(".safetensors") else self.checkpoint_file(path)

    def save(self, path: str | os.PathLike, global_step: int | None = None) -> str:
        """Write the tensors and JSON state to `path` (a `.safetensors` file, or a directory that receives
        `<name>.safetensors`). Returns the file path."""
        file = self._resolve(path)
        os.makedirs(os.path.dirname(file) or ".", exist_ok=True)
        tensors = {k: _full_tensor(v).detach().to("cpu").contiguous().clone() for k, v in self._tensors().items()}
        metadata = {
            "format": "pt",
            "callback": type(self).__name__,
            "state": json.dumps(self.state()),
            "global_step": json.dumps(global_step),
        }
        save_file(tensors, file, metadata=metadata)
        return file

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state written by [`save`] (file or directory)."""
        file = self._resolve(path)
        if not os.path.isfile(file):
            raise ValueError(
                f"{type(self).__name__}({self.name!r}): no state file at {file}; pass the checkpoint directory "
                f"that holds {self.name}.safetensors."
            )
        with safe_open(file, framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("callback") != type(self).__name__:
            raise ValueError(
                f"{type(self).__name__}({self.name!r}): {file} was written by {metadata.get('callback')!r}; give "
                "each callback its own name."
            )
        state = json.loads(metadata["state"])
        saved_args = {k: v for k, v in state["args"].items() if k != "params_filter"}
        current_args = {k: v for k, v in self.state()["args"].items() if k != "params_filter"}
        if saved_args != current_args:
            logger.warning(
                "%s(%r): checkpoint %s was saved with %s, this callback has %s; keeping the current arguments.",
                type(self).__name__, self.name, file, saved_args, current_args,
            )
        self._load_tensors(load_file(file), state["attributes"])
        self._restored_step = json.loads(metadata.get("global_step", "null"))

    def load_from_checkpoint(self, checkpoint_dir: str | os.PathLike) -> None:
        """Restore the state saved in a Trainer checkpoint directory (`<checkpoint_dir>/<name>.safetensors`).

        Call it before `trainer.train(resume_from_checkpoint=checkpoint_dir)` when the checkpoint is not under
        `args.output_dir`; checkpoints under `args.output_dir` are reloaded automatically in `on_train_begin`."""
        self.load(self.checkpoint_file(checkpoint_dir))

    # -- Trainer events ---------------------------------------------------------------------------------------
    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if getattr(args, "should_save", state.is_world_process_zero):
            checkpoint_dir = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
            self.save(checkpoint_dir, global_step=state.global_step)

    def _restore_for_resume(self, args: TrainingArguments, state: TrainerState) -> bool:
        """Bring the state to `state.global_step` on resume. Returns whether it was restored."""
        step = state.global_step
        inherited, self._inherited = self._inherited, None
        if self._restored_step == step:
            return True
        if inherited is not None and inherited is not self and inherited._restored_step == step:
            self._take_state_from(inherited)
            self._restored_step = step
            return True
        candidates = []
        if isinstance(getattr(args, "resume_from_checkpoint", None), str):
            candidates.append(args.resume_from_checkpoint)
        candidates.append(os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{step}"))
        for directory in candidates:
            file = self.checkpoint_file(directory)
            if os.path.isfile(file) and _saved_step(file) in (None, step):
                self.load(file)
                self._restored_step = step
                return True
        logger.warning(
            "%s(%r): resuming at step %d but found no %s.safetensors in %s; its state restarts from scratch. Call "
            "load_from_checkpoint(<checkpoint dir>) before train() to restore it.",
            type(self).__name__, self.name, step, self.name, candidates,
        )
        return False


class AveragingCallback(_CheckpointableCallback):
    """Running average of the trainable parameters in CPU float32, optionally loaded into the model at the end."""

    _average_class: type[RunningAverage] = RunningAverage
    averages_weights = True  # weight-space: refused with adapters whose tensors are not the model's weights

    def __init__(self, name: str, params_filter: ParamsFilter, apply_at_end: bool):
        super().__init__(name, params_filter)
        self.apply_at_end = bool(apply_at_end)
        self._average = self._average_class(device="cpu", dtype=torch.float32)

    # counters live in the running average; properties so that the Trainer's `setattr` restore works
    @property
    def num_updates(self) -> int:
        return self._average.num_updates

    @num_updates.setter
    def num_updates(self, value: int) -> None:
        self._average.num_updates = int(value)

    @property
    def weight_sum(self) -> float:
        return self._average.weight_sum

    @weight_sum.setter
    def weight_sum(self, value: float) -> None:
        self._average.weight_sum = float(value)

    @property
    def average(self) -> dict[str, torch.Tensor]:
        """`name -> tensor` running average (CPU float32) of the averaged parameters; empty before a snapshot."""
        return self._average.state_dict()

    def snapshot(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """Trainable (and `params_filter`-selected) parameters of `model`, as CPU float32 copies."""
        with _full_parameters(model) as module:
            return {
                name: _full_tensor(p).detach().to("cpu", torch.float32).clone()
                for name, p in module.named_parameters()
                if p.requires_grad and self._keep(name)
            }

    def _checked_snapshot(self, model: nn.Module) -> dict[str, torch.Tensor]:
        state = self.snapshot(model)
        if not state:
            raise ValueError(
                f"{type(self).__name__}: the model has no trainable parameter selected by params_filter "
                f"{self.params_filter!r}; nothing to average."
            )
        return state

    def _fold(self, model: nn.Module, weight: float) -> None:
        self._average.update(self._checked_snapshot(model), weight)

    @torch.no_grad()
    def apply_to(self, model: nn.Module) -> None:
        """Load the running average into the matching parameters of `model`."""
        if self._average.average is None:
            raise ValueError(f"{type(self).__name__}: no snapshot was averaged yet; nothing to apply.")
        with _full_parameters(model, writeback=True) as module:
            params = dict(module.named_parameters())
            missing = [k for k in self.average if k not in params]
            if missing:
                raise ValueError(f"{type(self).__name__}: the model has no parameter {missing[:5]}.")
            for name, value in self.average.items():
                _copy_into(params[name], value)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.apply_at_end and model is not None:
            if self._average.average is None:
                logger.warning("%s(%r): no snapshot was taken; the model is left unchanged.",
                               type(self).__name__, self.name)
            else:
                self.apply_to(model)

    def _begin(self, args, state) -> None:
        if state.global_step == 0:  # a fresh run starts a fresh average
            self._reset()
            self._restored_step = None
            self._inherited = None
        elif not self._restore_for_resume(args, state):
            self._reset()

    # -- checkpointing ----------------------------------------------------------------------------------------
    def _tensors(self):
        return dict(self.average)

    def _load_tensors(self, tensors, attributes):
        self._average.load(tensors, attributes.get("weight_sum", 0.0), attributes.get("num_updates", 0))

    def _reset(self):
        self._average = self._average_class(device="cpu", dtype=torch.float32)

    def _take_state_from(self, other):
        self._average = other._average


class EpochAveragingCallback(AveragingCallback):
    """Uniform average of the epoch-end snapshots of epochs `start_epoch..end_epoch` (1-based, inclusive), as
    FROSTER averages its epoch checkpoints 2..22 for cross-dataset evaluation.

    Args:
        start_epoch, end_epoch: first and last averaged epoch (epoch `e` ends after `e` passes over the data; a
            partial last epoch counts as the next epoch number).
        apply_at_end: load the average into the model in `on_train_end`.
        params_filter: restrict the averaged parameters (regex or callable on names); trainable ones only.
        name: file name in checkpoints (`<name>.safetensors`).
    """

    _average_class = UniformAverage

    def __init__(
        self,
        start_epoch: int = 2,
        end_epoch: int = 22,
        apply_at_end: bool = True,
        params_filter: ParamsFilter = None,
        name: str = "epoch_average",
    ):
        super().__init__(name, params_filter, apply_at_end)
        if not 1 <= int(start_epoch) <= int(end_epoch):
            raise ValueError(
                f"EpochAveragingCallback: need 1 <= start_epoch <= end_epoch, got {start_epoch} and {end_epoch}."
            )
        self.start_epoch = int(start_epoch)
        self.end_epoch = int(end_epoch)
        self.averaged_epochs: list[int] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._begin(args, state)
        if state.global_step == 0:
            self.averaged_epochs = []
        if state.num_train_epochs is not None and math.ceil(state.num_train_epochs) < self.start_epoch:
            logger.warning("EpochAveragingCallback(%r): the run has %s epochs, fewer than start_epoch=%d; nothing "
                           "will be averaged.", self.name, state.num_train_epochs, self.start_epoch)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        epoch = int(math.ceil(round(float(state.epoch), 6)))
        if self.start_epoch <= epoch <= self.end_epoch and epoch not in self.averaged_epochs:
            self._fold(model, 1.0)
            self.averaged_epochs.append(epoch)

    def _args(self):
        return {"start_epoch": self.start_epoch, "end_epoch": self.end_epoch, "apply_at_end": self.apply_at_end}

    def _attributes(self):
        return {"num_updates": self.num_updates, "weight_sum": self.weight_sum,
                "averaged_epochs": list(self.averaged_epochs)}

    def _load_tensors(self, tensors, attributes):
        super()._load_tensors(tensors, attributes)
        self.averaged_epochs = [int(e) for e in attributes.get("averaged_epochs", [])]

    def _reset(self):
        super()._reset()
        self.averaged_epochs = []

    def _take_state_from(self, other):
        super()._take_state_from(other)
        self.averaged_epochs = list(other.averaged_epochs)
