"""One way to load a video model: a `VideoClipModel` checkpoint as it is, or any `CLIPModel` checkpoint wrapped
as a video model (`VideoClipModel.from_clip`). Used by the recipes, the evaluator and the pipeline."""

from __future__ import annotations

import os

from .models.video_clip import VideoClipModel


def checkpoint_model_type(name_or_path: str) -> str | None:
    """`model_type` of a checkpoint's config.json (directory or Hub id); a clear error when there is none."""
    from transformers import PretrainedConfig

    name = str(name_or_path)
    if (os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name)) and not os.path.isdir(name):
        raise ValueError(f"--model {name!r}: no such directory. Pass a folder holding a CLIP or VideoClip checkpoint "
                         "(config.json + weights) or a Hub id.")
    try:
        config, _ = PretrainedConfig.get_config_dict(str(name_or_path))
    except (OSError, ValueError) as error:
        where = "directory" if os.path.isdir(str(name_or_path)) else "directory or Hub id"
        raise ValueError(f"--model {name_or_path!r}: no model config found there (is it a {where} holding "
                         f"config.json? {str(error).splitlines()[0]}). Pass a CLIP or VideoClip checkpoint.") from None
    return config.get("model_type")


def load_video_clip_model(name_or_path, temporal_mode: str | None = None, num_frames: int | None = None,
                          require_temporal_mode: bool = False, vclip_edge: str = "zero") -> VideoClipModel:
    """A `VideoClipModel` from a VideoClip checkpoint, or from a CLIP one wrapped with `temporal_mode` (default
    `mean`), `num_frames` (default 8) and `vclip_edge` (`VideoClipConfig.vclip_edge`). With
    `require_temporal_mode`, a VideoClip checkpoint of another temporal mode is an error (training a method on a
    backbone it was not asked for); otherwise its own mode is kept. A checkpoint with adapters (an `msta` /
    `adapter` run: `config.adapter`, or a `msta/` subfolder) comes back as an `MstaModel`, frozen."""
    name_or_path = str(name_or_path)
    model_type = checkpoint_model_type(name_or_path)
    if model_type == "clip":
        return VideoClipModel.from_clip(name_or_path, temporal_mode=temporal_mode or "mean",
                                        num_frames=num_frames or 8, vclip_edge=vclip_edge)
    if model_type != "video_clip":
        raise ValueError(f"--model {name_or_path!r} is a {model_type!r} checkpoint; hfvideoclip loads CLIP "
                         "(model_type 'clip') and VideoClip ('video_clip') checkpoints.")
    model = VideoClipModel.from_pretrained(name_or_path)
    if getattr(model.config, "adapter", None) and model.config.adapter["type"] == "st_adapter":
        model.requires_grad_(False)  # an exported st_adapter run: a plain VideoClipModel with its adapters built in
    elif getattr(model.config, "adapter", None):  # an exported msta / adapter run: adapters built in
        from .adapters.msta import MstaModel

        model = MstaModel.from_video_clip_model(model)
    elif os.path.isdir(name_or_path):  # exported before `config.adapter`: base weights + `msta/` adapter
        from .adapters.bottleneck import load_saved_adapter

        model = load_saved_adapter(model, name_or_path)
    if require_temporal_mode and temporal_mode and temporal_mode != model.config.temporal_mode:
        raise ValueError(f"{name_or_path} is a {model.config.temporal_mode!r} VideoClipModel; --temporal_mode "
                         f"{temporal_mode} applies only when starting from a CLIP checkpoint.")
    return model


__all__ = ["checkpoint_model_type", "load_video_clip_model"]
