"""Configuration of `VideoXClipModel`: transformers' X-CLIP (`XCLIPModel`) as an hfvideoclip backbone.

Self-contained on purpose (imports `transformers` only): `trust_remote_code` copies this file into a Hub repository.
"""

from __future__ import annotations

from transformers import XCLIPConfig, XCLIPTextConfig, XCLIPVisionConfig

XCLIP_TEMPORAL_MODE = "xclip"
"""`config.temporal_mode` of every X-CLIP model: cross-frame communication tokens in the vision encoder, then the
multi-frame integration transformer (`mit`); the only temporal mode an X-CLIP checkpoint has."""
XCLIP_FRAME_POOLING = "mit"
"""`config.frame_pooling` of every X-CLIP model: frames are pooled by the `mit` (a mean over its output tokens)."""
XCLIP_SCORING_HEAD = "video_prompt"
"""`config.scoring_head` of every X-CLIP model: cosine against class texts plus X-CLIP's video-specific prompt."""
XCLIP_VIEW_POOLINGS = ("logits", "probabilities")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""X-CLIP normalises frames with ImageNet's statistics (microsoft/VideoX X-CLIP `datasets/build.py`, and the
`preprocessor_config.json` of the microsoft/xclip-* checkpoints)."""


class VideoXClipConfig(XCLIPConfig):
    r"""
    Every field of `transformers.XCLIPConfig` (`text_config`, `vision_config` with `num_frames` and the `mit_*` sizes,
    `projection_dim`, `prompt_*`, `logit_scale_init_value`), plus what hfvideoclip reads of a video model:

    temporal_mode (`str`, always `"xclip"`): X-CLIP's own temporal modelling (cross-frame communication + `mit`).
    num_frames (`int`, *optional*): frames per clip; always `vision_config.num_frames` (X-CLIP's message attention and
        `mit` position embeddings are built for that count), given here too so readers of `config.json` find it.
    frame_pooling (`str`, always `"mit"`); scoring_head (`str`, always `"video_prompt"`).
    view_pooling (`str`, defaults to `"probabilities"`): how test views combine, `"probabilities"` (mean of the views'
        softmax, X-CLIP `main.py` `validate`) or `"logits"`.
    image_mean, image_std (`list[float]`): the processor's normalisation (ImageNet's by default, as X-CLIP).

    `custom_pipelines` (written by `save_pretrained`) is kept by the copy of this class that runs as remote code only,
    as `VideoClipConfig` does.
    """

    model_type = "video_xclip"

    temporal_mode: str = XCLIP_TEMPORAL_MODE
    num_frames: int | None = None
    frame_pooling: str = XCLIP_FRAME_POOLING
    scoring_head: str = XCLIP_SCORING_HEAD
    view_pooling: str | None = None
    image_mean: list[float] | tuple[float, ...] | None = None
    image_std: list[float] | tuple[float, ...] | None = None

    vclip_edge = "zero"  # not a field: read by code that rebuilds a model "as trained"; X-CLIP has no vclip mode

    def __post_init__(self, **kwargs):
        for name, value, allowed in (("temporal_mode", self.temporal_mode, XCLIP_TEMPORAL_MODE),
                                     ("frame_pooling", self.frame_pooling, XCLIP_FRAME_POOLING),
                                     ("scoring_head", self.scoring_head, XCLIP_SCORING_HEAD)):
            if value != allowed:
                raise ValueError(f"VideoXClipConfig.{name}={value!r} is not supported: an X-CLIP model has "
                                 f"{name} {allowed!r} only (check the `{name}` field of config.json).")
        if self.view_pooling is None:
            self.view_pooling = "probabilities"
        if self.view_pooling not in XCLIP_VIEW_POOLINGS:
            raise ValueError(f"VideoXClipConfig.view_pooling={self.view_pooling!r} is not supported; use one of "
                             f"{', '.join(XCLIP_VIEW_POOLINGS)} (check the `view_pooling` field of config.json).")
        for name, config_class in (("text_config", XCLIPTextConfig), ("vision_config", XCLIPVisionConfig)):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, config_class())
            elif isinstance(value, dict):
                setattr(self, name, config_class(**value))
        frames = self.vision_config.num_frames
        if self.num_frames is None:
            self.num_frames = frames
        elif self.num_frames != frames:
            raise ValueError(f"VideoXClipConfig.num_frames={self.num_frames} but vision_config.num_frames={frames}: an "
                             "X-CLIP model is built for one frame count (its message attention and mit position "
                             "embeddings); leave num_frames out or make the two equal.")
        self.image_mean = list(self.image_mean) if self.image_mean is not None else list(IMAGENET_MEAN)
        self.image_std = list(self.image_std) if self.image_std is not None else list(IMAGENET_STD)
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("VideoXClipConfig.image_mean and image_std need three values (R, G, B).")
        if not type(self).__module__.startswith("transformers_modules"):  # the installed package's class
            kwargs.pop("custom_pipelines", None)
        super().__post_init__(**kwargs)

    @classmethod
    def from_xclip_config(cls, xclip_config: XCLIPConfig, **fields) -> VideoXClipConfig:
        """This config for an `XCLIPConfig` (same sub-configs and X-CLIP fields), plus `fields` of this class."""
        data = xclip_config.to_dict()
        for key in ("model_type", "architectures", "transformers_version", "auto_map", "_name_or_path"):
            data.pop(key, None)
        return cls(**{**data, **{k: v for k, v in fields.items() if v is not None}})


__all__ = ["VideoXClipConfig"]
