"""Methods as plug-ins: per method a config dataclass of its own flags and an `Objective` module.

```python
from hfvideoclip.methods import MethodConfig, Objective, register_method

@register_method("my_method")
class MyObjective(Objective):
    config_class = MyConfig          # a MethodConfig dataclass; its fields become flags
    def loss(self, pixel_values_videos, labels):
        ...
        return {"loss": total, "my_term": term.detach()}
```
Then `hfvideoclip train --method my_method ...` trains it; no package file names it.
"""

from __future__ import annotations

from importlib import resources

from .base import MethodConfig, Objective, ObjectiveContext, base_model, step_generator, text_tower_trains
from .ce import CrossEntropyConfig, CrossEntropyObjective
from .froster import FrosterConfig, FrosterObjective
from .msta import MstaMethodConfig, MstaObjective
from .open_mede import OpenMedeConfig, OpenMedeObjective
from .open_vclip import OpenVclipConfig, OpenVclipObjective
from .ost import OstConfig, OstObjective
from .registry import MethodSpec, available_methods, get_method, register_method
from .taco import TacoConfig, TacoObjective


def packaged_preset(name: str) -> str:
    """Path of the preset YAML shipped in `hfvideoclip/training/presets/`."""
    return str(resources.files("hfvideoclip.training").joinpath("presets", f"{name}.yaml"))


for _name, _objective in (("ce", CrossEntropyObjective), ("open_vclip", OpenVclipObjective),
                          ("froster", FrosterObjective), ("taco", TacoObjective),
                          ("open_mede", OpenMedeObjective), ("msta", MstaObjective), ("ost", OstObjective)):
    register_method(_name, _objective, preset=packaged_preset(_name))

__all__ = [
    "CrossEntropyConfig", "CrossEntropyObjective", "FrosterConfig", "FrosterObjective", "MethodConfig", "MethodSpec",
    "MstaMethodConfig", "MstaObjective", "OstConfig", "OstObjective",
    "Objective", "ObjectiveContext", "OpenMedeConfig", "OpenMedeObjective", "OpenVclipConfig", "OpenVclipObjective",
    "TacoConfig", "TacoObjective", "available_methods", "base_model", "get_method", "packaged_preset",
    "register_method", "step_generator", "text_tower_trains",
]
