"""Prompt templates: defined with the model (`models/video_clip/prompt_templates.py`, which ships with saved models);
this name is an alias of that module."""

import sys

from ..models.video_clip import prompt_templates as _module

sys.modules[__name__] = _module
