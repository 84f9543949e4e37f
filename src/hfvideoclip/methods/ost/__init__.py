"""`ost` (OST, Chen et al. CVPR 2024): spatio-temporal descriptors matched to frames by optimal transport."""

from .objective import OstConfig, OstObjective

__all__ = ["OstConfig", "OstObjective"]
