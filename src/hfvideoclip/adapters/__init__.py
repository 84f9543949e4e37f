"""Adaptation strategies (`full`, `frozen_text`, `lora`, `msta`, `adapter`, `st_adapter`, `prompts`), looked up
by `--adaptation` name."""

from .base import Adaptation, available_adaptations, get_adaptation, register_adaptation
from .bottleneck import AdapterAdaptation, MstaAdaptation, load_saved_adapter
from .full import FrozenText, FullFineTuning
from .lora import LoraAdaptation
from .st_adapter import StAdapterAdaptation
from .visual_prompts import PromptsAdaptation

__all__ = ["Adaptation", "AdapterAdaptation", "FrozenText", "FullFineTuning", "LoraAdaptation", "MstaAdaptation",
           "PromptsAdaptation", "StAdapterAdaptation", "available_adaptations", "get_adaptation", "load_saved_adapter", "register_adaptation"]
