"""Configuration of `VideoClipModel`: a CLIP text tower and vision tower adapted to video.

Self-contained on purpose (imports `transformers` only): `trust_remote_code` copies this file into a Hub repository.
"""

from __future__ import annotations

from transformers import CLIPTextConfig, CLIPVisionConfig, PreTrainedConfig

TEMPORAL_MODES = ("mean", "vclip", "viclip")
VCLIP_EDGE_MODES = ("zero", "mask")
SCORING_HEADS = ("cosine", "optimal_descriptor")
FRAME_POOLINGS = ("features", "logits")
VIEW_POOLINGS = ("logits", "probabilities")
"""Names accepted by `VideoClipConfig.scoring_head`; `modeling_video_clip.VIDEO_CLIP_SCORING_HEADS` maps each to its
module (a test keeps the two in sync)."""
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ADAPTER_FIELDS = ("type", "dim", "start_layer", "end_layer", "scale", "dropout", "towers", "shared_projection",
                  "mid_projection", "temporal", "gradient_scaling")
"""Keys of `VideoClipConfig.adapter` (`bottleneck_adapters.py`; `MstaConfig.to_model_adapter` writes them)."""
ST_ADAPTER_FIELDS = ("type", "dim", "kernel_size", "position", "start_layer", "end_layer")
"""Keys of `VideoClipConfig.adapter` for `"type": "st_adapter"` (`st_adapter.py`)."""
PROMPTS_FIELDS = ("type", "num_tokens", "dropout")
"""Keys of `VideoClipConfig.adapter` for `"type": "prompts"` (deep visual prompts, `visual_prompts.py`)."""


class VideoClipConfig(PreTrainedConfig):
    r"""
    text_config (`dict` or `CLIPTextConfig`): configuration of the CLIP text tower.
    vision_config (`dict` or `CLIPVisionConfig`): configuration of the CLIP vision tower (per frame).
    temporal_mode (`str`, defaults to `"mean"`): how frames are combined.
        `"mean"`: frame-wise CLIP, projected embeddings averaged over frames (ViFi-CLIP, TACO, OST).
        `"vclip"`: Open-VCLIP neighbour-frame attention: in every visual block the queries of frame t attend to
        the tokens of frames t+1, t-1 and t. Parameter-free.
        `"viclip"`: ViCLIP joint space-time attention over 1 + N*T tokens with one class token per video and a
        learned temporal positional embedding (zero-initialised).
    num_frames (`int`, defaults to 8): frames per clip; length of the `viclip` temporal embedding.
    vclip_edge (`str`, defaults to `"zero"`): missing neighbours at the clip edges in `vclip` mode. `"zero"` inserts
        zero keys and values (as the official Open-VCLIP/FROSTER code, so their checkpoints reproduce); `"mask"`
        removes them from the softmax (a one-frame clip then reduces to CLIP exactly).
    scoring_head (`str`, defaults to `"cosine"`): how `VideoClipModel.compute_logits` scores videos against classes.
        `"cosine"`: `exp(logit_scale) * cos(video, class)` against one embedding per class (the template
        ensemble of `get_class_embeddings`). Configs saved before this field existed load with `"cosine"`.
        `"optimal_descriptor"` (OST): per-frame embeddings against each class's spatial and temporal descriptor
        embeddings, mean-pooled score + Sinkhorn optimal-transport score (`optimal_transport.py`); its class bank
        is a `VideoClipDescriptorBank` (`get_descriptor_embeddings`).
    frame_pooling (`str`, defaults to `"logits"` for `vclip`, `"features"` otherwise): how the cosine head turns
        frames into one video score. `"features"`: `s * cos(mean_t u_t, c)`, the frame-mean feature scored
        (ViFi-CLIP, TACO). `"logits"`: `mean_t s * <u_t / |u_t|, c / |c|>`, per-frame logits averaged (Open-VCLIP,
        FROSTER, Open-MeDe; FROSTER `slowfast/models/temporalclip_video_model.py` `pred.reshape(bz, clip_len,
        -1).mean(1)`); the video embedding is then the mean of unit frames, scored without renormalising.
    view_pooling (`str`, defaults to `"logits"` for `vclip`, `"probabilities"` otherwise): how the test views of a
        video are combined (`combine_view_logits`). `"logits"`: softmax of the view-averaged logits (Open-VCLIP /
        FROSTER test meter, which sums logits); `"probabilities"`: mean of the per-view softmax (ViFi-CLIP and OST
        `validate`, which sum `softmax` over views). Configs saved before these fields existed take the defaults.
    image_mean, image_std (`list[float]`): normalisation used by the processor (CLIP's by default; ViCLIP uses
        ImageNet's).
    adapter (`dict`, *optional*): bottleneck adapters that are part of the model (`bottleneck_adapters.py`):
        `{"type": "msta" | "adapter", "dim", "start_layer", "end_layer", "scale", "dropout", "towers",
        "shared_projection", "mid_projection", "temporal", "gradient_scaling"}` (the fields of the package's
        `MstaConfig`). None (default): no adapters. ST-Adapter (`st_adapter.py`): `{"type": "st_adapter", "dim",
        "kernel_size", "position", "start_layer", "end_layer"}`. Deep visual prompts (VPT-deep, `visual_prompts.py`):
        `{"type": "prompts", "num_tokens", "dropout"}`.

    `custom_pipelines` (written by `save_pretrained`, pointing `pipeline(..., trust_remote_code=True)` at the shipped
    `pipeline_video_clip.py`) is kept by the copy of this class that runs as remote code only: the installed
    package registers the task itself, and with the entry `pipeline()` would insist on `trust_remote_code=True`.
    """

    model_type = "video_clip"
    sub_configs_defaults = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: dict | CLIPTextConfig | None = None
    vision_config: dict | CLIPVisionConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    initializer_factor: float = 1.0
    temporal_mode: str = "mean"
    num_frames: int = 8
    vclip_edge: str = "zero"
    scoring_head: str = "cosine"
    frame_pooling: str | None = None
    view_pooling: str | None = None
    image_mean: list[float] | tuple[float, ...] | None = None
    image_std: list[float] | tuple[float, ...] | None = None
    adapter: dict | None = None

    def __post_init__(self, **kwargs):
        if self.temporal_mode not in TEMPORAL_MODES:
            raise ValueError(
                f"VideoClipConfig.temporal_mode={self.temporal_mode!r} is not supported; "
                f"use one of {', '.join(TEMPORAL_MODES)} (check the `temporal_mode` field of config.json)."
            )
        if self.vclip_edge not in VCLIP_EDGE_MODES:
            raise ValueError(
                f"VideoClipConfig.vclip_edge={self.vclip_edge!r} is not supported; use 'zero' or 'mask'."
            )
        if self.scoring_head not in SCORING_HEADS:
            raise ValueError(
                f"VideoClipConfig.scoring_head={self.scoring_head!r} is not supported; "
                f"use one of {', '.join(SCORING_HEADS)} (check the `scoring_head` field of config.json)."
            )
        if self.frame_pooling is None:
            self.frame_pooling = "logits" if self.temporal_mode == "vclip" else "features"
        if self.view_pooling is None:
            self.view_pooling = "logits" if self.temporal_mode == "vclip" else "probabilities"
        if self.frame_pooling not in FRAME_POOLINGS:
            raise ValueError(f"VideoClipConfig.frame_pooling={self.frame_pooling!r} is not supported; use one of "
                             f"{', '.join(FRAME_POOLINGS)} (check the `frame_pooling` field of config.json).")
        if self.view_pooling not in VIEW_POOLINGS:
            raise ValueError(f"VideoClipConfig.view_pooling={self.view_pooling!r} is not supported; use one of "
                             f"{', '.join(VIEW_POOLINGS)} (check the `view_pooling` field of config.json).")
        if not isinstance(self.num_frames, int) or self.num_frames < 1:
            raise ValueError(f"VideoClipConfig.num_frames must be a positive integer, got {self.num_frames!r}.")
        self.image_mean = list(self.image_mean) if self.image_mean is not None else list(OPENAI_CLIP_MEAN)
        self.image_std = list(self.image_std) if self.image_std is not None else list(OPENAI_CLIP_STD)
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("VideoClipConfig.image_mean and image_std need three values (R, G, B).")
        if self.adapter is not None:
            self.adapter = _checked_adapter(self.adapter)
        if not type(self).__module__.startswith("transformers_modules"):  # the installed package's class
            kwargs.pop("custom_pipelines", None)
        # Sub-configs as config objects whatever the transformers release does with `sub_configs_defaults` (5.17
        # left them as dicts, and building the model then failed on `text_config.hidden_size`).
        for name, config_class in (("text_config", CLIPTextConfig), ("vision_config", CLIPVisionConfig)):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, config_class())
            elif isinstance(value, dict):
                setattr(self, name, config_class(**value))
        super().__post_init__(**kwargs)


def _checked_adapter(adapter) -> dict:
    """`adapter` as a plain dict with exactly `ADAPTER_FIELDS`; a one-line `ValueError` naming the fix if not."""
    if not isinstance(adapter, dict):
        raise ValueError(f"VideoClipConfig.adapter must be a dict or None, got {type(adapter).__name__} (check the "
                         "`adapter` field of config.json).")
    adapter = dict(adapter)
    if adapter.get("type") == "st_adapter":
        return _checked_st_adapter(adapter)
    if adapter.get("type") == "prompts":
        return _checked_prompts(adapter)
    missing = [name for name in ADAPTER_FIELDS if name not in adapter]
    unknown = sorted(set(adapter) - set(ADAPTER_FIELDS))
    if missing or unknown:
        raise ValueError(f"VideoClipConfig.adapter lacks {missing} / has unknown {unknown} (check the `adapter` "
                         f"field of config.json: it needs exactly {', '.join(ADAPTER_FIELDS)}).")
    if adapter["type"] not in ("msta", "adapter"):
        raise ValueError(f"VideoClipConfig.adapter type {adapter['type']!r} is not supported; use 'msta', "
                         "'adapter', 'st_adapter' or 'prompts' (check the `adapter` field of config.json).")
    if adapter["towers"] not in ("both", "vision", "text"):
        raise ValueError(f"VideoClipConfig.adapter towers {adapter['towers']!r} is not supported; use 'both', "
                         "'vision' or 'text' (check the `adapter` field of config.json).")
    return adapter


def _check_exact_fields(adapter: dict, fields, kind: str) -> str:
    """ValueError unless `adapter` has exactly `fields`; returns the hint that every adapter error ends with."""
    where = "(check the `adapter` field of config.json)"
    missing = [name for name in fields if name not in adapter]
    unknown = sorted(set(adapter) - set(fields))
    if missing or unknown:
        raise ValueError(f"VideoClipConfig.adapter ({kind}) lacks {missing} / has unknown {unknown} {where}: it "
                         f"needs exactly {', '.join(fields)}.")
    return where


def _checked_st_adapter(adapter: dict) -> dict:
    """An ST-Adapter `adapter` dict with exactly `ST_ADAPTER_FIELDS` (kernel_size as a list of 3 odd sizes)."""
    where = _check_exact_fields(adapter, ST_ADAPTER_FIELDS, "st_adapter")
    dim, kernel = adapter["dim"], adapter["kernel_size"]
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"VideoClipConfig.adapter dim={dim!r} must be a positive integer {where}.")
    if (not isinstance(kernel, (list, tuple)) or len(kernel) != 3
            or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 for k in kernel)):
        raise ValueError(f"VideoClipConfig.adapter kernel_size={kernel!r} must be three odd positive sizes (T, H, W) "
                         f"{where}.")
    if adapter["position"] not in ("attention", "mlp", "both"):
        raise ValueError(f"VideoClipConfig.adapter position {adapter['position']!r} is not supported; use "
                         f"'attention', 'mlp' or 'both' {where}.")
    adapter["kernel_size"] = list(kernel)
    return adapter


def _checked_prompts(adapter: dict) -> dict:
    """A visual-prompts `adapter` dict with exactly `PROMPTS_FIELDS` (num_tokens >= 1, dropout in [0, 1))."""
    where = _check_exact_fields(adapter, PROMPTS_FIELDS, "prompts")
    tokens, dropout = adapter["num_tokens"], adapter["dropout"]
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"VideoClipConfig.adapter num_tokens={tokens!r} must be a positive integer {where}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"VideoClipConfig.adapter dropout={dropout!r} must be a number in [0, 1) {where}.")
    adapter["dropout"] = float(dropout)
    return adapter


__all__ = ["ADAPTER_FIELDS", "PROMPTS_FIELDS", "ST_ADAPTER_FIELDS", "VideoClipConfig"]
