"""`ce` (ViFi-CLIP): cross-entropy of the model's class logits over prompt-template class texts."""

from .objective import CrossEntropyConfig, CrossEntropyObjective

__all__ = ["CrossEntropyConfig", "CrossEntropyObjective"]
