"""`open_vclip` (Open-VCLIP, Weng et al., ICML 2023): interpolated weight optimisation on a `vclip` backbone."""

from .objective import OpenVclipConfig, OpenVclipObjective

__all__ = ["OpenVclipConfig", "OpenVclipObjective"]
