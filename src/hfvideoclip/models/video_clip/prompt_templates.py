"""Prompt templates for class names and class descriptors (ships with saved models: the pipeline uses them).

`KINETICS_TEMPLATES` is the 28-template ensemble of TACO (App. F, Table 15), which follows ViFi-CLIP; each
template holds one ``{}`` for the class name. Class embeddings average the L2-normalised template embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

_PREFIXES = ("a photo of", "a video of", "a example of", "a demonstration of")
_MIDDLES = ("", "a person", "a person using", "a person doing", "a person during", "a person performing",
            "a person practicing")

KINETICS_TEMPLATES: tuple[str, ...] = tuple(
    f"{prefix} {middle + ' ' if middle else ''}{{}}." for prefix in _PREFIXES for middle in _MIDDLES
)
"""The 28 templates of TACO Table 15, in the paper's order."""

SINGLE_TEMPLATE: tuple[str, ...] = ("a video of {}.",)

OST_SPATIAL_TEMPLATE = "This is a video about {des}"
"""OST's prompt for a spatial descriptor (official `utils/textprompt.py`)."""
OST_TEMPORAL_TEMPLATE = "A video of {cls} usually includes {des}"
"""OST's prompt for a temporal descriptor, conditioned on the class name (ost.txt, official `textprompt.py`)."""


def ost_descriptor_prompts(kind: str, class_name: str, descriptors) -> list[str]:
    """OST's text-encoder prompts for one class's `"spatial"` or `"temporal"` descriptors."""
    if kind == "spatial":
        return [OST_SPATIAL_TEMPLATE.format(des=d) for d in descriptors]
    if kind == "temporal":
        return [OST_TEMPORAL_TEMPLATE.format(cls=class_name, des=d) for d in descriptors]
    raise ValueError(f"OST descriptors are 'spatial' or 'temporal', got {kind!r}.")


def build_class_prompts(class_names: Sequence[str], templates: Sequence[str] | str = KINETICS_TEMPLATES
                        ) -> list[list[str]]:
    """Fill every template with every class name: ``result[c][k] = templates[k].format(class_names[c])``."""
    if isinstance(templates, str):
        templates = [templates]
    templates = list(templates)
    if not templates:
        raise ValueError("`templates` is empty: pass at least one template containing '{}', e.g. 'a video of {}.'")
    for template in templates:
        if "{}" not in template:
            raise ValueError(f"Template {template!r} has no '{{}}' placeholder for the class name; "
                             "write it like 'a video of {}.'")
    return [[template.format(name) for template in templates] for name in class_names]
