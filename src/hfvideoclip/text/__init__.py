"""Text knowledge: prompt templates, class names, class descriptions / descriptors (FROSTER, MSTA, OST formats),
their generation with a local language model, and the class banks the scoring heads score against."""

from .descriptor_generation import (
    TransformersGenerator,
    generate_descriptions,
    parse_list,
    write_descriptor_files,
)
from .descriptors import (
    OST_SPATIAL_TEMPLATE,
    OST_TEMPORAL_TEMPLATE,
    ClassDescriptions,
    descriptor_prompts,
    load_class_names,
    load_descriptions,
    save_descriptions,
)
from .templates import KINETICS_TEMPLATES, SINGLE_TEMPLATE, build_class_prompts

__all__ = ["KINETICS_TEMPLATES", "OST_SPATIAL_TEMPLATE", "OST_TEMPORAL_TEMPLATE", "SINGLE_TEMPLATE", "ClassDescriptions",
           "TransformersGenerator", "build_class_prompts", "descriptor_prompts", "generate_descriptions",
           "load_class_names", "load_descriptions", "parse_list", "save_descriptions", "write_descriptor_files"]
