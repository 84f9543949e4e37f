"""Adaptation strategies: which parameters of a `VideoClipModel` train, and how the result folds back into a plain
model for export. Each strategy is small: `apply(model, args) -> trainable model`, `export(model) -> VideoClipModel`.
"""

from __future__ import annotations

import os

from torch import nn


class Adaptation:
    """Base strategy: every parameter trains; export returns the model itself."""

    name = "full"
    trains_model_weights = True
    """Whether the trainable tensors are the pretrained model's own weights, so that interpolating them with the
    zero-shot model's (Open-VCLIP) interpolates the model. False for every adapter and for LoRA."""
    averages_parameters = True
    """Whether averaging the trainable tensors averages the adapted model's parameters (SWA, Open-MeDe's GWA,
    FROSTER's epoch averaging): true of full fine-tuning and of adapters, prompts and ST-Adapters, whose tensors are
    parameters of the adapted network as a block's weights are. False for LoRA: the mean of B and the mean of A
    do not give the mean of B A, the weight the model uses."""

    def apply(self, model: nn.Module, args) -> nn.Module:
        """Prepare `model` for training (freeze, wrap); `args` are the shared training arguments."""
        return model

    def export(self, model: nn.Module) -> nn.Module:
        """A plain `VideoClipModel` holding what was trained (never modifies `model`: training may go on)."""
        return model

    def count_parameters(self, model: nn.Module) -> tuple[int, int]:
        """(trainable, total) parameters of the adapted `model` (what `apply` returned): its `requires_grad`
        flags."""
        return (sum(p.numel() for p in model.parameters() if p.requires_grad),
                sum(p.numel() for p in model.parameters()))

    def save(self, exported: nn.Module, output_dir: str, trained: nn.Module | None = None) -> None:
        """Write the exported model to `output_dir` so that `load_video_clip_model(output_dir)` gives it back;
        `trained` is the model as trained (e.g. a `PeftModel`), for strategies that also save their adapter alone."""
        exported.save_pretrained(output_dir)


def trainable_share_text(name: str, trainable: int, total: int) -> str:
    """`--adaptation <name>: N trainable parameters of M (x %)`: printed at the start of every run (the builder) and
    recorded in `train_args.json` for the model card."""
    share = 100 * trainable / max(total, 1)
    return f"--adaptation {name}: {trainable:,} trainable parameters of {total:,} ({share:.2f} %)"


def report_trainable_parameters(name: str, trainable: int, total: int) -> None:
    """Print `trainable_share_text` once per run (local rank 0)."""
    if int(os.environ.get("LOCAL_RANK", "0")) == 0:
        print(trainable_share_text(name, trainable, total))


_ADAPTATIONS: dict[str, type[Adaptation]] = {}


def register_adaptation(name: str, cls: type[Adaptation] | None = None):
    """Register an `Adaptation` subclass under `name` (also usable as a class decorator)."""
    if cls is None:
        return lambda klass: register_adaptation(name, klass)
    if not (isinstance(cls, type) and issubclass(cls, Adaptation)):
        raise TypeError(f"register_adaptation({name!r}): {cls!r} is not an Adaptation subclass.")
    _ADAPTATIONS[name] = cls
    return cls


def get_adaptation(name: str) -> Adaptation:
    """A new instance of the strategy registered as `name`."""
    if name not in _ADAPTATIONS:
        raise ValueError(f"--adaptation {name!r} is not available; choose one of {', '.join(available_adaptations())}.")
    return _ADAPTATIONS[name]()


def available_adaptations() -> list[str]:
    return list(_ADAPTATIONS)


__all__ = ["Adaptation", "available_adaptations", "get_adaptation", "register_adaptation",
           "report_trainable_parameters"]
