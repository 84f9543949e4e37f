"""Methods as plug-ins: a method is a folder (`objective.py`, `loss.py`, `preset.yaml`, `presets/`, `card.md`).

The built-in methods are the folders of this package, registered by `discover_methods` on import; no file lists
them. Your own method is a folder of your package (`register_method_folder("my_pkg.my_method")`, or the
entry-point group `hfvideoclip.methods`), or a single class:

```python
from hfvideoclip.methods import MethodConfig, Objective, register_method

@register_method("my_method")
class MyObjective(Objective):
    config_class = MyConfig          # a MethodConfig dataclass; its fields become flags
    def loss(self, pixel_values_videos, labels):
        ...
        return {"loss": total, "my_term": term.detach()}
```
Then `hfvideoclip train --method my_method ...` trains it.
"""

from __future__ import annotations

from .base import MethodConfig, Objective, ObjectiveContext, base_model, step_generator, text_tower_trains
from .ce import CrossEntropyConfig, CrossEntropyObjective
from .froster import FrosterConfig, FrosterObjective
from .msta import MstaMethodConfig, MstaObjective
from .open_mede import OpenMedeConfig, OpenMedeObjective
from .open_vclip import OpenVclipConfig, OpenVclipObjective
from .ost import OstConfig, OstObjective
from .registry import (
    MethodSpec,
    available_methods,
    discover_methods,
    get_method,
    register_method,
    register_method_folder,
)
from .taco import TacoConfig, TacoObjective

discover_methods(__name__)

__all__ = [
    "CrossEntropyConfig", "CrossEntropyObjective", "FrosterConfig", "FrosterObjective", "MethodConfig", "MethodSpec",
    "MstaMethodConfig", "MstaObjective", "OstConfig", "OstObjective",
    "Objective", "ObjectiveContext", "OpenMedeConfig", "OpenMedeObjective", "OpenVclipConfig", "OpenVclipObjective",
    "TacoConfig", "TacoObjective", "available_methods", "base_model", "discover_methods", "get_method",
    "register_method", "register_method_folder", "step_generator", "text_tower_trains",
]
