"""Adapters built into the model itself (`config.adapter`): the shipped modules of `models/video_clip/` are inserted
into a `VideoClipModel`, only they train, and the exported model carries them (loads by id without the package).
`st_adapter` and `prompts` are such adaptations; each names its spec and its parameters."""

from __future__ import annotations

import copy

from ..models.video_clip.configuration_video_clip import VideoClipConfig
from ..models.video_clip.modeling_video_clip import add_adapters
from .base import Adaptation


class BuiltInAdapterAdaptation(Adaptation):
    """Insert the adapter described by `spec(model, args)` (a `config.adapter` dict of type `name`), freeze the rest.

    Subclasses set `name`, `what` (a phrase for errors: "ST-Adapter weights") and implement `spec` and
    `is_adapter_parameter(name)`. An exported run of the same type goes on training its own adapters."""

    trains_model_weights = False
    what = "adapter weights"

    def spec(self, model, args) -> dict:
        raise NotImplementedError

    def is_adapter_parameter(self, name: str) -> bool:
        raise NotImplementedError

    def apply(self, model, args):
        if getattr(args, "patch_alpha", None) is not None:
            raise ValueError(f"--adaptation {self.name} cannot be combined with --patch_alpha: the zero-shot model has "
                             f"no {self.what} to interpolate with.")
        config = getattr(model, "config", None)
        existing = getattr(config, "adapter", None)
        if not isinstance(config, VideoClipConfig) or (existing and existing["type"] != self.name):
            raise ValueError(f"--adaptation {self.name} needs a plain VideoClipModel or CLIP checkpoint; this model "
                             f"already has {existing['type'] if existing else type(model).__name__} adapters.")
        if not existing:
            spec = VideoClipConfig(adapter=self.spec(model, args)).adapter  # checked as config.json would be
            model.config.adapter = spec
            add_adapters(model, spec)
        model.requires_grad_(False)
        for name, param in model.named_parameters():
            if self.is_adapter_parameter(name):
                param.requires_grad_(True)
        return model

    def export(self, model):
        return copy.deepcopy(model)


__all__ = ["BuiltInAdapterAdaptation"]
