"""Adaptation strategies (`full`, `frozen_text`, `lora`), looked up by `--adaptation` name."""

from .base import Adaptation, available_adaptations, get_adaptation, register_adaptation
from .full import FrozenText, FullFineTuning
from .lora import LoraAdaptation

__all__ = ["Adaptation", "FrozenText", "FullFineTuning", "LoraAdaptation", "available_adaptations",
           "get_adaptation", "register_adaptation"]
