"""`ModelExporter`: what a user-facing save writes: the student as a plain `VideoClipModel` (adaptation merged,
optionally weight-patched with the zero-shot model, then the method's export hook) and the processor."""

from __future__ import annotations

import copy

from torch import nn

from ..objectives.open_vclip import patch_weights


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

    def model(self, objective) -> nn.Module:
        """The exported model (not saved); the objective's own student is left untouched."""
        student = self.adaptation.export(objective.student)
        if self.patch_alpha is not None:
            state = student.state_dict()
            zero_shot = self.zero_shot_model.state_dict()
            student = copy.deepcopy(student)
            student.load_state_dict(patch_weights(state, {k: zero_shot[k] for k in state}, self.patch_alpha))
        return objective.export(student)

    def __call__(self, objective, output_dir: str) -> nn.Module:
        model = self.model(objective)
        self.adaptation.save(model, output_dir, trained=objective.student)
        objective.save_extras(output_dir)
        self.processor.save_pretrained(output_dir)
        return model


__all__ = ["ModelExporter"]
