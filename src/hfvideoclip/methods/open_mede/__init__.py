"""`open_mede` (Open-MeDe, ICCV 2025): cross-batch first-order meta-optimisation and Gaussian weight averaging."""

from .objective import OpenMedeConfig, OpenMedeObjective

__all__ = ["OpenMedeConfig", "OpenMedeObjective"]
