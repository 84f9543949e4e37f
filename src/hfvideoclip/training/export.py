"""`ModelExporter`: what a user-facing save writes: the student as a plain `VideoClipModel` (adaptation merged,
optionally weight-patched with the zero-shot model, then the method's export hook) and the processor."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..methods.open_vclip.loss import patch_weights


class ModelExporter:
    """`exporter(objective, output_dir) -> VideoClipModel` saved in `output_dir`.

    Args:
        processor: saved next to the model.
        adaptation: the `Adaptation` strategy whose `export` folds adapters into the weights.
        patch_alpha: weight-space ensemble `alpha * fine-tuned + (1 - alpha) * zero-shot` (None = off).
        zero_shot_model: the model before training (needed with `patch_alpha`).
    """

    def __init__(self, processor, adaptation, patch_alpha: float | None = None,
                 zero_shot_model: nn.Module | None = None):
        if patch_alpha is not None and zero_shot_model is None:
            raise ValueError("patch_alpha needs the zero-shot model to patch with.")
        self.processor = processor
        self.adaptation = adaptation
        self.patch_alpha = patch_alpha
        self.zero_shot_model = zero_shot_model
        self._structure: nn.Module | None = None

    def keep_structure(self, student: nn.Module) -> None:
        """Keep a weightless copy of `student` (parameters on the meta device, buffers kept) before FSDP shards it,
        to rebuild a plain student from a gathered state dict (`full_student`)."""
        memo = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
                for p in student.parameters()}
        self._structure = copy.deepcopy(student, memo)

    def full_student(self, objective_state: dict[str, torch.Tensor]) -> nn.Module:
        """A plain student holding the `student.*` entries of the objective's full state dict (gathered from FSDP
        shards by `Accelerator.get_state_dict`)."""
        if self._structure is None:
            raise ValueError("ModelExporter.full_student needs keep_structure(student) before the model is sharded.")
        shapes = {name: value.shape for name, value in self._structure.state_dict().items()}
        state = {name[len("student."):]: value for name, value in objective_state.items()
                 if name.startswith("student.")}
        # A scalar held as (1,) for FSDP2 (training.distributed.hold_scalars_as_vectors) is a scalar again.
        state = {name: value.reshape(shapes[name]) if name in shapes and value.numel() == shapes[name].numel()
                 else value for name, value in state.items()}
        student = copy.deepcopy(self._structure)
        student.load_state_dict(state, assign=True)
        return student

    def model(self, objective, student: nn.Module | None = None) -> nn.Module:
        """The exported model (not saved) from `student` (default: `objective.student`), which is left
        untouched."""
        student = self.adaptation.export(objective.student if student is None else student)
        if self.patch_alpha is not None:
            state = student.state_dict()
            zero_shot = self.zero_shot_model.state_dict()
            student = copy.deepcopy(student)
            student.load_state_dict(patch_weights(state, {k: zero_shot[k] for k in state}, self.patch_alpha))
        return objective.export(student)

    def __call__(self, objective, output_dir: str, student: nn.Module | None = None) -> nn.Module:
        """`student`: the trained student when `objective.student` does not hold plain weights (FSDP shards)."""
        student = objective.student if student is None else student
        model = self.model(objective, student)
        self.adaptation.save(model, output_dir, trained=student)
        objective.save_extras(output_dir)
        self.processor.save_pretrained(output_dir)
        return model


__all__ = ["ModelExporter"]
