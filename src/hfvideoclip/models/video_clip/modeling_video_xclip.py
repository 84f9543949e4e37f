"""`VideoXClipModel`: transformers' X-CLIP (`XCLIPModel`, Ni et al., ECCV 2022) behind hfvideoclip's video-model API.

Self-contained on purpose (imports `transformers` and sibling files of this folder only): `trust_remote_code` copies
this file into a Hub repository, where `hfvideoclip` may not be installed.

The model holds an `XCLIPModel` as it is (`self.xclip`: the vision encoder with cross-frame communication tokens,
the multi-frame integration transformer `mit`, the video-specific prompt generator `prompts_generator`) and exposes
what the training methods, the pipeline and the evaluator call on a `VideoClipModel`:

- `get_video_features(pixel_values_videos, return_frame_embeds=True)` -> `(video (B, D), XClipVideoContext)`: the
  `mit`-pooled video embedding and, in place of per-frame embeddings, the video's context for the prompt generator
  (its projected patch tokens averaged over frames, as `XCLIPModel.forward` computes them);
- `get_class_embeddings(input_ids, attention_mask)` -> `(C, D)` class texts *before* the video-specific prompt
  (unnormalised: the prompt generator reads their scale);
- `compute_logits(video, class_embeds, frame_embeds=context)`: the prompt applied per video, `class + prompt(class,
  context)` -> `(B, C, D)`, then `exp(logit_scale) * cos` (`scaled_cosine_logits`), exactly `XCLIPModel`'s
  `logits_per_video` for one prompt per class.

X-CLIP has no per-frame embeddings to score on their own and one temporal mode of its own; training methods that need
more declare it (`Objective.backbone_needs`) and are refused for this model (`backbone_features`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import XCLIPModel
from transformers.models.x_clip.modeling_x_clip import XCLIPPreTrainedModel
from transformers.utils import ModelOutput

# Every file this module reaches, imported directly: transformers releases before 5.23 copy only the direct relative
# imports of a remote module into their module cache (see pipeline_video_clip.py).
from .bottleneck_adapters import MstaAdapter  # noqa: F401
from .configuration_video_clip import VideoClipConfig  # noqa: F401
from .configuration_video_xclip import VideoXClipConfig
from .descriptor_files import HUB_ARGUMENTS
from .modeling_video_clip import (
    LOGIT_SCALE_MAX,
    VideoClipPreTrainedModel,
    checkpoint_normalisation,
    scaled_cosine_logits,
    template_ensemble,
)
from .optimal_transport import optimal_descriptor_logits  # noqa: F401
from .precision import autocast_off, full_precision
from .prompt_templates import KINETICS_TEMPLATES  # noqa: F401
from .st_adapter import StAdapter  # noqa: F401
from .visual_prompts import VisualPrompts  # noqa: F401

XCLIP_NEW_MODULE_KEYWORDS = ("prompts_", ".mit.", "message_")
"""Parameter-name fragments of what X-CLIP adds to CLIP (prompt generator and its visual projection, `mit`,
cross-frame message tokens): X-CLIP trains them at 10x the learning rate (microsoft/VideoX X-CLIP
`utils/optimizer.py`); `VideoClipTrainer` puts them in the `--projection_learning_rate` group."""


@dataclass
class XClipVideoContext:
    """What X-CLIP's video-specific prompt generator reads of a video: `patch_tokens`, `(B, N, D)`, the patch tokens
    of the vision encoder's last block through `prompts_visual_layernorm` and `prompts_visual_projection`, averaged
    over the T frames (`XCLIPModel.forward`'s `img_features`). Returned by `get_video_features(...,
    return_frame_embeds=True)` where a `VideoClipModel` returns per-frame embeddings; not a tensor on purpose, so code
    that would score it as frames fails loudly."""

    patch_tokens: torch.Tensor

    def to(self, *args, **kwargs) -> XClipVideoContext:
        return XClipVideoContext(self.patch_tokens.to(*args, **kwargs))

    def detach(self) -> XClipVideoContext:
        return XClipVideoContext(self.patch_tokens.detach())


@dataclass
class VideoXClipOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): cross-entropy of `logits_per_video` against `labels`.
        logits_per_video (`torch.FloatTensor` of shape `(batch, num_classes)`).
        logits_per_text (`torch.FloatTensor` of shape `(num_classes, batch)`): the transpose.
        video_embeds (`torch.FloatTensor` of shape `(batch, projection_dim)`): L2-normalised `mit` output.
        text_embeds (`torch.FloatTensor` of shape `(batch, num_classes, projection_dim)`): L2-normalised class texts
            with each video's prompt.
    """

    loss: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None


class VideoXClipModel(VideoClipPreTrainedModel):
    """X-CLIP for hfvideoclip: an `XCLIPModel` (`self.xclip`, weights under `xclip.*`) with the video-model API of
    `VideoClipModel` (see the module docstring). Build one from any X-CLIP checkpoint with `from_xclip`."""

    config_class = VideoXClipConfig
    config: VideoXClipConfig
    base_model_prefix = "video_xclip"
    _no_split_modules = list(XCLIPPreTrainedModel._no_split_modules)
    backbone_name = "X-CLIP"
    backbone_features = frozenset()
    """Optional backbone features (`Objective.backbone_needs`) this model has: none. A `VideoClipModel` has them all
    (per-frame embeddings scored by a head, a frame-wise copy of its own weights)."""
    backbone_note = ("its video embedding comes from the multi-frame integration transformer and its class texts are "
                     "conditioned on the whole video, so no frame is scored on its own, and its vision layers "
                     "exchange messages across frames, so its weights make no frame-wise CLIP")
    adaptations = ("full", "frozen_text", "lora")
    """`--adaptation`s that work on it: the others insert modules into `VideoClipModel`'s own encoder layers."""
    new_module_keywords = XCLIP_NEW_MODULE_KEYWORDS
    class_bank_keeps_norm = True
    """The class bank (`get_class_embeddings`) is not unit-norm, and must not be normalised: the prompt generator
    reads the text features at their scale."""

    def __init__(self, config: VideoXClipConfig):
        super().__init__(config)
        self.xclip = XCLIPModel(config)
        self.post_init()

    def _init_weights(self, module):
        """Nothing of its own: `XCLIPModel` initialises its modules (`PreTrainedModel.initialize_weights` dispatches a
        sub-model's modules to its own `_init_weights`)."""

    # ------------------------------------------------------------------ the towers, as a VideoClipModel names them
    @property
    def text_model(self) -> nn.Module:
        return self.xclip.text_model

    @property
    def text_projection(self) -> nn.Module:
        return self.xclip.text_projection

    @property
    def vision_model(self) -> nn.Module:
        return self.xclip.vision_model

    @property
    def visual_projection(self) -> nn.Module:
        return self.xclip.visual_projection

    @property
    def logit_scale(self) -> nn.Parameter:
        return self.xclip.logit_scale

    # ------------------------------------------------------------------ video
    def _check_video(self, pixel_values_videos: torch.Tensor) -> None:
        if not isinstance(pixel_values_videos, torch.Tensor) or pixel_values_videos.dim() != 5:
            shape = tuple(pixel_values_videos.shape) if isinstance(pixel_values_videos, torch.Tensor) else type(
                pixel_values_videos).__name__
            raise ValueError(f"`pixel_values_videos` must be a tensor of shape (batch, frames, 3, height, width), got "
                             f"{shape}. Use VideoClipProcessor(videos=...) to build it.")
        frames, channels, height, width = pixel_values_videos.shape[1:]
        size = self.config.vision_config.image_size
        if frames != self.config.num_frames:
            raise ValueError(f"This X-CLIP model takes clips of {self.config.num_frames} frames "
                             f"(vision_config.num_frames: its cross-frame message attention and mit position "
                             f"embeddings are built for that count), got {frames}; sample {self.config.num_frames} "
                             f"frames (processor num_frames={self.config.num_frames}).")
        if channels != 3 or height != size or width != size:
            raise ValueError(f"`pixel_values_videos` has frames of shape {(channels, height, width)}, the model "
                             f"expects (3, {size}, {size}) (VideoClipProcessor resizes and crops to it).")

    def get_video_features(self, pixel_values_videos: torch.Tensor, return_frame_embeds: bool = False):
        """Video embeddings, (batch, projection_dim), not normalised: `XCLIPModel.get_video_features` (the `mit`
        output pooled). With `return_frame_embeds=True` also the video's `XClipVideoContext` (the prompt generator's
        input), which `compute_logits` takes as `frame_embeds`."""
        self._check_video(pixel_values_videos)
        batch, frames = pixel_values_videos.shape[:2]
        outputs = self.xclip.get_video_features(pixel_values=pixel_values_videos)
        video = outputs.pooler_output
        if not return_frame_embeds:
            return video
        xclip = self.xclip  # as XCLIPModel.forward computes `img_features`
        patches = xclip.prompts_visual_layernorm(outputs.last_hidden_state[:, 1:, :]) @ xclip.prompts_visual_projection
        patches = patches.view(batch, frames, -1, video.shape[-1]).mean(dim=1)
        return video, XClipVideoContext(patches)

    # ------------------------------------------------------------------ text
    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                          position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Text embeddings, (num_texts, projection_dim), not normalised, before any video-specific prompt."""
        return self.xclip.get_text_features(input_ids=input_ids, attention_mask=attention_mask,
                                            position_ids=position_ids).pooler_output

    def get_class_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                             position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Class texts before the video-specific prompt, (num_classes, projection_dim): `compute_logits`'s class bank.

        `input_ids` (and `attention_mask`) of shape (C, L), one prompt per class: its text features as they are
        (X-CLIP's own); or (C, K, L), K prompts per class: the template ensemble's direction (`template_ensemble`)
        at the prompts' mean norm, the scale X-CLIP's prompt generator was trained with. float32 for half-precision
        models; differentiable.
        """
        if input_ids.dim() not in (2, 3):
            raise ValueError(f"get_class_embeddings expects input_ids of shape (num_classes, num_prompts, length) or "
                             f"(num_classes, length), got {tuple(input_ids.shape)}.")
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                             f"{tuple(input_ids.shape)}.")
        num_classes, length = input_ids.shape[0], input_ids.shape[-1]
        if input_ids.dim() == 2:
            return full_precision(self.get_text_features(input_ids, attention_mask, position_ids))

        def flat(x: torch.Tensor | None) -> torch.Tensor | None:
            return x.reshape(-1, length) if x is not None and x.shape == input_ids.shape else x

        features = self.get_text_features(flat(input_ids), flat(attention_mask), flat(position_ids))
        features = features.view(num_classes, input_ids.shape[1], -1)
        with autocast_off(features.device):
            features = full_precision(features)
            return template_ensemble(features) * features.norm(dim=-1).mean(dim=1, keepdim=True)

    # ------------------------------------------------------------------ scoring
    def video_conditioned_class_embeddings(self, class_embeds: torch.Tensor, context: XClipVideoContext
                                           ) -> torch.Tensor:
        """(C, D) class texts -> (B, C, D) per video: `text + prompts_generator(text, context.patch_tokens)`, as
        `XCLIPModel.forward`."""
        if not isinstance(context, XClipVideoContext):
            raise TypeError(f"X-CLIP conditions the class texts on the video: pass the XClipVideoContext of "
                            f"get_video_features(..., return_frame_embeds=True) as frame_embeds=, not "
                            f"{type(context).__name__}.")
        generator = self.xclip.prompts_generator
        visual = context.patch_tokens
        text = class_embeds.to(generator.alpha.dtype).unsqueeze(0).expand(visual.shape[0], -1, -1)
        return text + generator(text, visual.to(generator.alpha.dtype))

    def compute_logits(self, video_embeds: torch.Tensor, class_embeds: torch.Tensor,
                       frame_embeds: XClipVideoContext | None = None,
                       logit_scale: torch.Tensor | float | None = None) -> torch.Tensor:
        """Video-class logits (batch, num_classes): `exp(logit_scale) * cos(video, class + prompt)`.

        Args:
            video_embeds: (batch, projection_dim) (`get_video_features`).
            class_embeds: (num_classes, projection_dim) class texts (`get_class_embeddings`), which get each video's
                prompt here; or (batch, num_classes, projection_dim), already conditioned on each video.
            frame_embeds: the videos' `XClipVideoContext` (`get_video_features(..., return_frame_embeds=True)`),
                needed with (num_classes, projection_dim) class texts.
            logit_scale: log-scale to use instead of `self.logit_scale`.
        """
        scale = self.logit_scale if logit_scale is None else logit_scale
        if class_embeds.dim() == 2:
            if frame_embeds is None:
                raise ValueError("X-CLIP scores class texts conditioned on each video: call "
                                 "get_video_features(..., return_frame_embeds=True) and pass the context it returns "
                                 "as frame_embeds=.")
            class_embeds = self.video_conditioned_class_embeddings(class_embeds, frame_embeds)
        return scaled_cosine_logits(video_embeds, class_embeds, scale)

    @torch.no_grad()
    def clamp_logit_scale_(self, max_scale: float = LOGIT_SCALE_MAX) -> None:
        """Keep `exp(logit_scale) <= max_scale` by clamping the parameter in place (after an optimizer step)."""
        self.logit_scale.clamp_(max=math.log(max_scale))

    def forward(self, input_ids: torch.LongTensor | None = None, pixel_values_videos: torch.FloatTensor | None = None,
                attention_mask: torch.Tensor | None = None, position_ids: torch.LongTensor | None = None,
                labels: torch.LongTensor | None = None, return_dict: bool | None = None) -> VideoXClipOutput | tuple:
        """Video-class logits (`XCLIPModel`'s `logits_per_video`); `labels` (batch,) index the classes: then `loss` is
        their cross-entropy. `input_ids` (C, L) or (C, K, L) as `get_class_embeddings`."""
        if input_ids is None or pixel_values_videos is None:
            raise ValueError("VideoXClipModel.forward needs both `input_ids` (class texts) and `pixel_values_videos`.")
        video, context = self.get_video_features(pixel_values_videos, return_frame_embeds=True)
        text = self.video_conditioned_class_embeddings(
            self.get_class_embeddings(input_ids, attention_mask, position_ids), context)
        logits = scaled_cosine_logits(video, text, self.logit_scale)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        output = VideoXClipOutput(loss=loss, logits_per_video=logits, logits_per_text=logits.t(),
                                  video_embeds=F.normalize(video, dim=-1), text_embeds=F.normalize(text, dim=-1))
        return output.to_tuple() if return_dict is False else output

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`, remembering where the files came from (`hub_kwargs`), as
        `VideoClipModel.from_pretrained`."""
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model.hub_kwargs = {k: kwargs[k] for k in HUB_ARGUMENTS if kwargs.get(k) not in (None, False, "")}
        return model

    @classmethod
    def from_xclip(cls, name_or_path, view_pooling: str | None = None, image_mean=None, image_std=None,
                   **kwargs) -> VideoXClipModel:
        """Wrap any `XCLIPModel` checkpoint (local folder or Hub id, e.g. `microsoft/xclip-base-patch32`) or a loaded
        `XCLIPModel`; every weight is kept unchanged. The normalisation is read from the checkpoint's
        `preprocessor_config.json` when present (ImageNet's otherwise, as X-CLIP). `kwargs` go to
        `XCLIPModel.from_pretrained` (e.g. `revision`, `dtype`)."""
        if isinstance(name_or_path, XCLIPModel):
            xclip, name_or_path = name_or_path, name_or_path.name_or_path
        else:
            xclip = XCLIPModel.from_pretrained(name_or_path, **kwargs)
        image_mean, image_std = checkpoint_normalisation(name_or_path, image_mean, image_std, **kwargs)
        config = VideoXClipConfig.from_xclip_config(xclip.config, view_pooling=view_pooling, image_mean=image_mean,
                                                    image_std=image_std)
        config._attn_implementation = xclip.config._attn_implementation
        model = cls(config).to(xclip.dtype)
        model.xclip.load_state_dict(xclip.state_dict(), strict=True)
        model.name_or_path = str(name_or_path)
        return model


__all__ = ["XCLIP_NEW_MODULE_KEYWORDS", "VideoXClipModel", "VideoXClipOutput", "XClipVideoContext"]
