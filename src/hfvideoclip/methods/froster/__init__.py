"""`froster` (FROSTER, Huang et al., ICLR 2024): residual feature distillation from the frozen CLIP."""

from .objective import FrosterConfig, FrosterObjective, frame_mean_copy

__all__ = ["FrosterConfig", "FrosterObjective", "frame_mean_copy"]
