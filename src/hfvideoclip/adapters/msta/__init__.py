"""MSTA (Multi-modal Spatio-Temporal Adapter, ETL4Video) as a peft-style tuner: `MstaConfig`, `get_msta_model`,
`MstaModel` (save/load of the adapter alone, `disable_adapter`, `unload`)."""

from .config import CONFIG_NAME, TOWERS, WEIGHTS_NAME, MstaConfig
from .layer import MstaAdapter, MstaProjection, MstaTextBlock, MstaVisionBlock
from .model import MstaModel, get_msta_model

__all__ = ["CONFIG_NAME", "TOWERS", "WEIGHTS_NAME", "MstaAdapter", "MstaConfig", "MstaModel", "MstaProjection",
           "MstaTextBlock", "MstaVisionBlock", "get_msta_model"]
