"""`msta` (MSTA, ETL4Video): cross-entropy + description consistency, meant for `--adaptation msta` on ViCLIP."""

from .objective import MstaMethodConfig, MstaObjective

__all__ = ["MstaMethodConfig", "MstaObjective"]
