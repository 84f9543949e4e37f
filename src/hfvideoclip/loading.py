"""One way to load a video model: a `VideoClipModel` checkpoint as it is, or any `CLIPModel` checkpoint wrapped
as a video model (`VideoClipModel.from_clip`); X-CLIP checkpoints (`XCLIPModel`, or an exported `VideoXClipModel`)
as a `VideoXClipModel`. Used by the recipes, the evaluator and the pipeline."""

from __future__ import annotations

import os

from .models.video_clip import VideoClipModel
from .models.video_clip.configuration_video_xclip import XCLIP_TEMPORAL_MODE
from .models.video_clip.modeling_video_xclip import VideoXClipModel

XCLIP_MODEL_TYPES = ("xclip", "video_xclip")
"""`model_type`s of X-CLIP checkpoints: transformers' `XCLIPModel` and hfvideoclip's `VideoXClipModel`."""


def checkpoint_model_type(name_or_path: str) -> str | None:
    """`model_type` of a checkpoint's config.json (directory or Hub id); a clear error when there is none."""
    from transformers import PretrainedConfig

    name = str(name_or_path)
    if (os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name)) and not os.path.isdir(name):
        raise ValueError(f"--model {name!r}: no such directory. Pass a folder holding a CLIP, VideoClip or X-CLIP "
                         "checkpoint (config.json + weights) or a Hub id.")
    try:
        config, _ = PretrainedConfig.get_config_dict(str(name_or_path))
    except (OSError, ValueError) as error:
        where = "directory" if os.path.isdir(str(name_or_path)) else "directory or Hub id"
        raise ValueError(f"--model {name_or_path!r}: no model config found there (is it a {where} holding "
                         f"config.json? {str(error).splitlines()[0]}). Pass a CLIP, VideoClip or X-CLIP "
                         "checkpoint.") from None
    return config.get("model_type")


def load_video_clip_model(name_or_path, temporal_mode: str | None = None, num_frames: int | None = None,
                          require_temporal_mode: bool = False, vclip_edge: str = "zero") -> VideoClipModel:
    """A `VideoClipModel` from a VideoClip checkpoint, or from a CLIP one wrapped with `temporal_mode` (default
    `mean`), `num_frames` (default 8) and `vclip_edge` (`VideoClipConfig.vclip_edge`). With
    `require_temporal_mode`, a VideoClip checkpoint of another temporal mode is an error (training a method on a
    backbone it was not asked for); otherwise its own mode is kept. A checkpoint with adapters (an `msta` /
    `adapter` run: `config.adapter`, or a `msta/` subfolder) comes back as an `MstaModel`, frozen. An X-CLIP
    checkpoint comes back as a `VideoXClipModel` (`temporal_mode` refused unless required and 'xclip')."""
    name_or_path = str(name_or_path)
    model_type = checkpoint_model_type(name_or_path)
    if model_type == "clip":
        return VideoClipModel.from_clip(name_or_path, temporal_mode=temporal_mode or "mean",
                                        num_frames=num_frames or 8, vclip_edge=vclip_edge)
    if model_type in XCLIP_MODEL_TYPES:
        return _load_xclip(name_or_path, model_type, temporal_mode if require_temporal_mode else None, num_frames)
    if model_type != "video_clip":
        raise ValueError(f"--model {name_or_path!r} is a {model_type!r} checkpoint; hfvideoclip loads CLIP "
                         "(model_type 'clip'), VideoClip ('video_clip') and X-CLIP ('xclip', 'video_xclip') "
                         "checkpoints.")
    model = VideoClipModel.from_pretrained(name_or_path)
    if getattr(model.config, "adapter", None) and model.config.adapter["type"] in ("st_adapter", "prompts"):
        model.requires_grad_(False)  # an exported st_adapter / prompts run: a plain VideoClipModel with them built in
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


def _load_xclip(name_or_path: str, model_type: str, temporal_mode: str | None, num_frames: int | None):
    """A `VideoXClipModel`: an `XCLIPModel` checkpoint wrapped (`from_xclip`), or an exported one. X-CLIP has one
    temporal mode and one frame count of its own: another `temporal_mode` (asked for explicitly) or `num_frames` is
    refused in one line."""

    if temporal_mode not in (None, XCLIP_TEMPORAL_MODE):
        raise ValueError(f"--temporal_mode {temporal_mode}: {name_or_path} is an X-CLIP model, whose temporal "
                         f"modelling is its own (cross-frame communication tokens + multi-frame integration "
                         f"transformer, temporal_mode {XCLIP_TEMPORAL_MODE!r}); drop --temporal_mode or pass "
                         f"{XCLIP_TEMPORAL_MODE}.")
    model = (VideoXClipModel.from_xclip(name_or_path) if model_type == "xclip"
             else VideoXClipModel.from_pretrained(name_or_path))
    frames = model.config.num_frames
    if num_frames is not None and num_frames != frames:
        raise ValueError(f"--num_frames {num_frames}: {name_or_path} is an X-CLIP model for {frames}-frame clips (its "
                         f"cross-frame message attention and mit position embeddings are built for "
                         f"vision_config.num_frames = {frames}); pass --num_frames {frames}.")
    return model


__all__ = ["XCLIP_MODEL_TYPES", "checkpoint_model_type", "load_video_clip_model"]
