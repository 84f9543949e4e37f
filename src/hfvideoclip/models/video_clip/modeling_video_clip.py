"""`VideoClipModel`: CLIP text and vision towers adapted to video with three temporal modes.

Self-contained on purpose (imports `transformers` and its sibling configuration file only): `trust_remote_code`
copies this file into a Hub repository, where `hfvideoclip` may not be installed.

Parameter names follow `transformers.CLIPModel` exactly (`vision_model.encoder.layers.{i}.self_attn.q_proj...`),
so any CLIP checkpoint loads unchanged; `viclip` adds one tensor, `vision_model.temporal_embedding`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPTextModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.models.clip.modeling_clip import (
    CLIPMLP,
    CLIPAttention,
    CLIPTextEmbeddings,
    CLIPVisionEmbeddings,
)
from transformers.utils import ModelOutput

from .configuration_video_clip import VideoClipConfig


@dataclass
class VideoClipOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): cross-entropy of `logits_per_video` against `labels`.
        logits_per_video (`torch.FloatTensor` of shape `(video_batch_size, text_batch_size)`): scaled cosine
            similarities between video and text embeddings.
        logits_per_text (`torch.FloatTensor` of shape `(text_batch_size, video_batch_size)`): the transpose.
        video_embeds (`torch.FloatTensor` of shape `(video_batch_size, projection_dim)`): L2-normalised.
        text_embeds (`torch.FloatTensor` of shape `(text_batch_size, projection_dim)`): L2-normalised.
        frame_embeds (`torch.FloatTensor` of shape `(video_batch_size, num_frames, projection_dim)`, *optional*):
            projected per-frame embeddings (not normalised); `None` for `viclip`, which has one token per video.
    """

    loss: torch.FloatTensor | None = None
    logits_per_video: torch.FloatTensor | None = None
    logits_per_text: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None


class VideoClipAttention(CLIPAttention):
    """CLIP attention over frames. Same parameters as `CLIPAttention`; the key/value set depends on the mode.

    `mean`/`viclip`: ordinary self-attention over the given sequence. `vclip`: the input is (batch * frames, L, D);
    queries of frame t attend to the tokens of frames t+1, t-1 and t (3L keys), as `VCLIPAttention` in Open-VCLIP.
    """

    def forward(self, hidden_states: torch.Tensor, num_frames: int | None = None, vclip_edge: str = "zero"
                ) -> torch.Tensor:
        batch_frames, length, _ = hidden_states.shape
        heads, head_dim = self.num_heads, self.head_dim

        def split_heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(x.shape[0], x.shape[1], heads, head_dim).transpose(1, 2)

        queries = split_heads(self.q_proj(hidden_states))
        keys = self.k_proj(hidden_states)
        values = self.v_proj(hidden_states)
        mask = None
        if num_frames is not None:
            keys, values, mask = _neighbour_keys_values(keys, values, num_frames, vclip_edge)
        keys, values = split_heads(keys), split_heads(values)
        dropout = self.dropout if self.training else 0.0
        output = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, dropout_p=dropout,
                                                scale=self.scale)
        output = output.transpose(1, 2).reshape(batch_frames, length, self.embed_dim)
        return self.out_proj(output)


def _neighbour_keys_values(keys: torch.Tensor, values: torch.Tensor, num_frames: int, edge: str):
    """Concatenate, for every frame t, the projected tokens of frames t+1, t-1 and t.

    keys, values: (batch * T, L, D) -> (batch * T, 3L, D). Missing neighbours at the clip edges are zero vectors
    (`edge="zero"`: they still take softmax mass with logit 0, as in the official code) or masked out
    (`edge="mask"`, returned as a boolean mask of shape (batch * T, 1, 1, 3L), True = attend).
    """
    batch_frames, length, dim = keys.shape
    batch = batch_frames // num_frames

    def neighbours(x: torch.Tensor) -> torch.Tensor:
        x = x.view(batch, num_frames, length, dim)
        zeros = x.new_zeros(batch, 1, length, dim)
        following = torch.cat([x[:, 1:], zeros], dim=1)  # frame t+1
        previous = torch.cat([zeros, x[:, :-1]], dim=1)  # frame t-1
        return torch.cat([following, previous, x], dim=2).view(batch_frames, 3 * length, dim)

    mask = None
    if edge == "mask":
        frame = torch.arange(num_frames, device=keys.device)
        has_next = (frame < num_frames - 1).view(num_frames, 1).expand(num_frames, length)
        has_prev = (frame > 0).view(num_frames, 1).expand(num_frames, length)
        present = torch.ones(num_frames, length, dtype=torch.bool, device=keys.device)
        mask = torch.cat([has_next, has_prev, present], dim=1)  # (T, 3L)
        mask = mask.repeat(batch, 1).view(batch_frames, 1, 1, 3 * length)
    return neighbours(keys), neighbours(values), mask


class VideoClipEncoderLayer(GradientCheckpointingLayer):
    """A CLIP encoder block (pre-norm attention + MLP), with the video-aware attention above.

    Corresponds to `CLIPEncoderLayer` (same parameter names) / `ResidualAttentionBlock` in the original CLIP.
    """

    def __init__(self, config):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = VideoClipAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, num_frames: int | None = None, vclip_edge: str = "zero"
                ) -> torch.Tensor:
        hidden_states = hidden_states + self.self_attn(self.layer_norm1(hidden_states), num_frames, vclip_edge)
        return hidden_states + self.mlp(self.layer_norm2(hidden_states))


class VideoClipEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList([VideoClipEncoderLayer(config) for _ in range(config.num_hidden_layers)])


class VideoClipVisionTransformer(nn.Module):
    """CLIP's vision transformer applied to a clip of frames.

    Input (batch, T, 3, H, W). Output: pooled tokens after `post_layernorm`, (batch, T, width) for `mean`/`vclip`
    (one class token per frame) or (batch, 1, width) for `viclip` (one class token per video).
    """

    def __init__(self, config: VideoClipConfig):
        super().__init__()
        vision_config = config.vision_config
        width = vision_config.hidden_size
        self.temporal_mode = config.temporal_mode
        self.vclip_edge = config.vclip_edge
        self.embeddings = CLIPVisionEmbeddings(vision_config)
        self.pre_layrnorm = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)
        self.encoder = VideoClipEncoder(vision_config)
        self.post_layernorm = nn.LayerNorm(width, eps=vision_config.layer_norm_eps)
        if self.temporal_mode == "viclip":
            # `temporal_positional_embedding` (1, T, width) in ViCLIP; zero-init so CLIP starts unchanged.
            self.temporal_embedding = nn.Parameter(torch.zeros(1, config.num_frames, width))

    def _viclip_tokens(self, frames: torch.Tensor, batch: int, num_frames: int) -> torch.Tensor:
        """(batch * T, 3, H, W) -> (batch, 1 + N * T, width), space-major token order (index = n * T + t)."""
        embeddings = self.embeddings
        patches = embeddings.patch_embedding(frames.to(embeddings.patch_embedding.weight.dtype))
        patches = patches.flatten(2).transpose(1, 2)  # (batch * T, N, width)
        positions = embeddings.position_embedding.weight  # (1 + N, width)
        patches = patches + positions[1:]
        num_patches, width = patches.shape[1], patches.shape[2]
        patches = patches.view(batch, num_frames, num_patches, width)
        patches = patches + self._temporal_embedding(num_frames).unsqueeze(2)
        patches = patches.transpose(1, 2).reshape(batch, num_patches * num_frames, width)
        cls = (embeddings.class_embedding + positions[0]).to(patches.dtype).expand(batch, 1, width)
        return torch.cat([cls, patches], dim=1)

    def _temporal_embedding(self, num_frames: int) -> torch.Tensor:
        """The temporal embedding for `num_frames` frames, (1, T, width). As ViCLIP: the mean for T = 1 (images),
        the first T entries when T is shorter than the trained length, linear interpolation when it is longer."""
        embedding = self.temporal_embedding
        if num_frames == embedding.shape[1]:
            return embedding
        if num_frames == 1:
            return embedding.mean(dim=1, keepdim=True)
        if num_frames < embedding.shape[1]:
            return embedding[:, :num_frames]
        resized = F.interpolate(embedding.transpose(1, 2), size=num_frames, mode="linear", align_corners=True)
        return resized.transpose(1, 2)

    def forward(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        batch, num_frames = pixel_values_videos.shape[:2]
        frames = pixel_values_videos.flatten(0, 1)
        if self.temporal_mode == "viclip":
            hidden = self._viclip_tokens(frames, batch, num_frames)
        else:
            hidden = self.embeddings(frames)
        hidden = self.pre_layrnorm(hidden)
        neighbours = num_frames if self.temporal_mode == "vclip" else None
        for layer in self.encoder.layers:
            hidden = layer(hidden, num_frames=neighbours, vclip_edge=self.vclip_edge)
        pooled = self.post_layernorm(hidden[:, 0])
        return pooled.view(batch, -1, pooled.shape[-1])


class VideoClipPreTrainedModel(PreTrainedModel):
    config_class = VideoClipConfig
    config: VideoClipConfig
    base_model_prefix = "video_clip"
    main_input_name = "pixel_values_videos"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoClipEncoderLayer", "CLIPEncoderLayer", "CLIPTextEmbeddings", "CLIPVisionEmbeddings"]
    _supports_sdpa = True
    # The forward takes no **kwargs: the Trainer then scales the loss for gradient accumulation itself.
    accepts_loss_kwargs = False

    @torch.no_grad()
    def _init_weights(self, module):
        factor = self.config.initializer_factor
        if isinstance(module, CLIPVisionEmbeddings):
            init.normal_(module.class_embedding, std=module.embed_dim**-0.5 * factor)
            init.normal_(module.patch_embedding.weight, std=module.config.initializer_range * factor)
            init.normal_(module.position_embedding.weight, std=module.config.initializer_range * factor)
            init.copy_(module.position_ids, torch.arange(module.num_positions).expand((1, -1)))
        elif isinstance(module, CLIPTextEmbeddings):
            init.normal_(module.token_embedding.weight, std=0.02 * factor)
            init.normal_(module.position_embedding.weight, std=0.02 * factor)
            init.copy_(module.position_ids, torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
        elif isinstance(module, CLIPAttention):
            in_std = module.embed_dim**-0.5 * (2 * module.config.num_hidden_layers) ** -0.5 * factor
            for linear in (module.q_proj, module.k_proj, module.v_proj):
                init.normal_(linear.weight, std=in_std)
            init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
        elif isinstance(module, CLIPMLP):
            hidden = module.config.hidden_size
            init.normal_(module.fc1.weight, std=(2 * hidden) ** -0.5 * factor)
            init.normal_(module.fc2.weight, std=hidden**-0.5 * (2 * module.config.num_hidden_layers) ** -0.5
                            * factor)
        elif isinstance(module, VideoClipVisionTransformer) and hasattr(module, "temporal_embedding"):
            init.zeros_(module.temporal_embedding)
        elif isinstance(module, VideoClipModel):
            init.normal_(module.visual_projection.weight, std=module.vision_embed_dim**-0.5 * factor)
            init.normal_(module.text_projection.weight, std=module.text_embed_dim**-0.5 * factor)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and module.bias is not None:
            init.zeros_(module.bias)


class VideoClipModel(VideoClipPreTrainedModel):
    """CLIP for video: `mean` (ViFi-CLIP), `vclip` (Open-VCLIP) or `viclip` (ViCLIP) vision tower + CLIP text tower.

    Corresponds to `CLIPModel` with `pixel_values_videos` of shape (batch, frames, 3, H, W) in place of images.
    """

    def __init__(self, config: VideoClipConfig):
        super().__init__(config)
        self.projection_dim = config.projection_dim
        self.text_embed_dim = config.text_config.hidden_size
        self.vision_embed_dim = config.vision_config.hidden_size
        self.text_model = CLIPTextModel._from_config(config.text_config)
        self.vision_model = VideoClipVisionTransformer(config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, self.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, self.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        self.post_init()

    def _check_video(self, pixel_values_videos: torch.Tensor) -> None:
        if not isinstance(pixel_values_videos, torch.Tensor) or pixel_values_videos.dim() != 5:
            shape = tuple(pixel_values_videos.shape) if isinstance(pixel_values_videos, torch.Tensor) else type(
                pixel_values_videos).__name__
            raise ValueError(
                f"`pixel_values_videos` must be a tensor of shape (batch, frames, 3, height, width), got {shape}. "
                "Use VideoClipProcessor(videos=...) to build it; add a batch dimension for a single video.")
        channels, height, width = pixel_values_videos.shape[2:]
        size = self.config.vision_config.image_size
        if channels != 3 or height != size or width != size:
            raise ValueError(
                f"`pixel_values_videos` has frames of shape {(channels, height, width)}, the model expects "
                f"(3, {size}, {size}): frames must come channels-first at the model's image size "
                "(VideoClipProcessor resizes and crops to it).")

    def get_frame_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Projected tokens before temporal pooling: (batch, T, D) for `mean`/`vclip`, (batch, 1, D) for `viclip`."""
        self._check_video(pixel_values_videos)
        return self.visual_projection(self.vision_model(pixel_values_videos))

    def pool_frames(self, frame_embeds: torch.Tensor) -> torch.Tensor:
        """(batch, T, D) -> (batch, D). `mean`: average of projected frames (equals CLIP image features averaged);
        `vclip`: average of L2-normalised frames (Open-VCLIP averages per-frame logits: same ranking)."""
        if self.config.temporal_mode == "vclip":
            frame_embeds = F.normalize(frame_embeds, dim=-1)
        return frame_embeds.mean(dim=1)

    def get_video_features(self, pixel_values_videos: torch.Tensor, return_frame_embeds: bool = False):
        """Video embeddings, (batch, projection_dim), not normalised. With `return_frame_embeds=True` also the
        per-frame embeddings (batch, T, projection_dim), or `None` for `viclip`."""
        frames = self.get_frame_features(pixel_values_videos)
        video = self.pool_frames(frames)
        if return_frame_embeds:
            return video, (None if self.config.temporal_mode == "viclip" else frames)
        return video

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                          position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Text embeddings, (num_texts, projection_dim), not normalised."""
        outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        return self.text_projection(outputs.pooler_output)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        return_dict: bool | None = None,
    ) -> VideoClipOutput | tuple:
        """Video-text similarities. `labels` (batch,) index the texts: then `loss` is their cross-entropy."""
        if input_ids is None or pixel_values_videos is None:
            raise ValueError("VideoClipModel.forward needs both `input_ids` (class texts) and `pixel_values_videos`; "
                             "for one modality use get_text_features / get_video_features.")
        video, frames = self.get_video_features(pixel_values_videos, return_frame_embeds=True)
        text = self.get_text_features(input_ids, attention_mask, position_ids)
        video = F.normalize(video, dim=-1)
        text = F.normalize(text, dim=-1)
        scale = self.logit_scale.exp().clamp(max=100.0)
        logits_per_video = scale * video @ text.t()
        loss = F.cross_entropy(logits_per_video, labels) if labels is not None else None
        output = VideoClipOutput(loss=loss, logits_per_video=logits_per_video, logits_per_text=logits_per_video.t(),
                                 video_embeds=video, text_embeds=text, frame_embeds=frames)
        if return_dict is False:
            return output.to_tuple()
        return output

    @classmethod
    def from_clip(cls, name_or_path, temporal_mode: str = "mean", num_frames: int = 8, vclip_edge: str = "zero",
                  image_mean=None, image_std=None, **kwargs) -> VideoClipModel:
        """Build a video model from any Hugging Face `CLIPModel` checkpoint (local directory or Hub id) or a loaded
        `CLIPModel`.

        All CLIP weights are copied unchanged; `viclip` adds a zero-initialised temporal embedding. The
        normalisation is read from the checkpoint's `preprocessor_config.json` when present. `kwargs` go to
        `CLIPModel.from_pretrained` (e.g. `revision`, `dtype`).
        """
        from transformers import CLIPModel

        if isinstance(name_or_path, CLIPModel):
            clip, name_or_path = name_or_path, name_or_path.name_or_path
        else:
            clip = CLIPModel.from_pretrained(name_or_path, **kwargs)
        if image_mean is None or image_std is None:
            saved_mean, saved_std = _read_clip_normalisation(name_or_path)
            image_mean = image_mean if image_mean is not None else saved_mean
            image_std = image_std if image_std is not None else saved_std
        config = VideoClipConfig(
            text_config=clip.config.text_config.to_dict(),
            vision_config=clip.config.vision_config.to_dict(),
            projection_dim=clip.config.projection_dim,
            logit_scale_init_value=float(clip.logit_scale.detach()),
            temporal_mode=temporal_mode,
            num_frames=num_frames,
            vclip_edge=vclip_edge,
            image_mean=image_mean,
            image_std=image_std,
        )
        model = cls(config).to(clip.dtype)
        missing, unexpected = model.load_state_dict(clip.state_dict(), strict=False)
        allowed_missing = {"vision_model.temporal_embedding"}
        if set(missing) - allowed_missing or unexpected:
            raise ValueError(f"CLIP checkpoint {name_or_path!r} does not match VideoClipModel: missing "
                             f"{sorted(set(missing) - allowed_missing)}, unexpected {sorted(unexpected)}.")
        model.name_or_path = str(name_or_path)
        return model


def _read_clip_normalisation(name_or_path) -> tuple[list[float] | None, list[float] | None]:
    """`image_mean`/`image_std` from a CLIP checkpoint's `preprocessor_config.json`, or (None, None)."""
    import json
    import os

    path = os.path.join(str(name_or_path), "preprocessor_config.json")
    if not os.path.isfile(path):
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(str(name_or_path), "preprocessor_config.json")
        except Exception:
            return None, None
    with open(path) as handle:
        data = json.load(handle)
    return data.get("image_mean"), data.get("image_std")


def logit_scale_from_temperature(temperature: float) -> float:
    """log(1 / temperature), the stored form of a fixed logit scale (ViCLIP: 1/100)."""
    return math.log(1.0 / temperature)


__all__ = ["VideoClipModel", "VideoClipOutput", "VideoClipPreTrainedModel"]
