"""`full` fine-tuning and `frozen_text` (vision tower trains, text tower and text projection frozen)."""

from __future__ import annotations

from .base import Adaptation, register_adaptation


@register_adaptation("full")
class FullFineTuning(Adaptation):
    name = "full"


@register_adaptation("frozen_text")
class FrozenText(Adaptation):
    """Open-VCLIP's setting: the text tower does not train, so class embeddings can be cached."""

    name = "frozen_text"

    def apply(self, model, args):
        model.text_model.requires_grad_(False)
        model.text_projection.requires_grad_(False)
        return model
