"""`VideoClipModel`: CLIP text and vision towers adapted to video with three temporal modes.

Self-contained on purpose (imports `transformers` and its sibling configuration file only): `trust_remote_code`
copies this file into a Hub repository, where `hfvideoclip` may not be installed.

Parameter names follow `transformers.CLIPModel` exactly (`vision_model.encoder.layers.{i}.self_attn.q_proj...`),
so any CLIP checkpoint loads unchanged; `viclip` adds one tensor, `vision_model.temporal_embedding`.

Scoring lives here too, once: `template_ensemble` (prompt embeddings -> one embedding per class) and the scoring
heads (`VIDEO_CLIP_SCORING_HEADS`, chosen by `config.scoring_head`) behind `VideoClipModel.get_class_embeddings` and
`VideoClipModel.compute_logits`. The training objectives, the pipeline and the evaluation harness call these.

Every vision encoder layer (and its attention) receives a `VideoClipLayout` describing how the clip is laid out in
its token sequence, so an adapter wrapping a layer can reshape patch tokens to the (T, H, W) grid in any mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPTextModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.models.clip.modeling_clip import (
    CLIPMLP,
    CLIPAttention,
    CLIPEncoderLayer,
    CLIPTextEmbeddings,
    CLIPVisionEmbeddings,
)
from transformers.utils import ModelOutput

from .bottleneck_adapters import (
    AdaptedLayer,
    MstaAdapter,
    MstaProjection,
    adapter_layer_indices,
    adapter_shared_indices,
)
from .configuration_video_clip import VideoClipConfig
from .descriptor_files import HUB_ARGUMENTS, resolve_file
from .optimal_transport import optimal_descriptor_logits
from .precision import autocast_off, full_precision, logit_scale_factor
from .st_adapter import add_st_adapters, remove_st_adapters, st_adapt
from .visual_prompts import add_visual_prompts, insert_prompts, remove_visual_prompts, strip_prompts

LOGIT_SCALE_MAX = 100.0
"""Upper bound of `exp(logit_scale)`, kept on the parameter after each optimizer step (`clamp_logit_scale_`), as
CLIP and open_clip do; never a clamp inside the graph."""

TOKEN_ORDERS = ("frame", "space_major")


# ------------------------------------------------------------------------------------------------ scoring
def template_ensemble(prompt_embeds: torch.Tensor) -> torch.Tensor:
    """Class embeddings from K prompts per class (templates): L2-normalise each, average over K, renormalise.

    The one implementation of the template ensemble (CLIP's zero-shot classifier, ViFi-CLIP, TACO); everything
    else (`VideoClipModel.get_class_embeddings`, `objectives.cross_entropy.average_template_embeddings`,
    `text.class_embeddings`) calls it.

    Args:
        prompt_embeds: `(C, K, D)` embeddings of K prompts for each of C classes (any norm).

    Returns:
        `(C, D)` unit-norm class embeddings; float32 when the input is float16/bfloat16.
    """
    if prompt_embeds.dim() != 3:
        raise ValueError(
            f"template_ensemble: expected a (num_classes, num_prompts, dim) tensor, got shape "
            f"{tuple(prompt_embeds.shape)}; reshape the text features to (N, P, D) first."
        )
    with autocast_off(prompt_embeds.device):
        unit = F.normalize(full_precision(prompt_embeds), dim=-1)
        return F.normalize(unit.mean(dim=1), dim=-1)


def scaled_cosine_logits(video_embeds: torch.Tensor, class_embeds: torch.Tensor,
                         logit_scale: torch.Tensor | float, normalize_video: bool = True) -> torch.Tensor:
    """`exp(logit_scale) * cos(video, class)`: the cosine scoring of CLIP, the one implementation.

    Args:
        video_embeds: `(B, D)` (or `(..., D)`) video embeddings, any norm.
        class_embeds: `(C, D)` class embeddings, any norm; or `(B, C, D)`, one bank per video (X-CLIP's
            video-conditioned class texts), with `video_embeds` `(B, D)`.
        logit_scale: log of the scale (tensor or float).
        normalize_video: False scores `video_embeds` as they are, `exp(logit_scale) * <v, c / |c|>`: for the mean
            of unit frame embeddings this is the average of per-frame logits (`frame_pooling="logits"`).

    Returns:
        `(B, C)` (or `(..., C)`) logits, differentiable in all three inputs;
        computed in float32 (also under autocast) when an input is float16/bfloat16.
    """
    if video_embeds.shape[-1] != class_embeds.shape[-1]:
        raise ValueError(
            f"scaled_cosine_logits: video_embeds has dimension {video_embeds.shape[-1]} but class_embeds has "
            f"{class_embeds.shape[-1]}; project both into the same joint space."
        )
    per_video = class_embeds.dim() == 3 and video_embeds.dim() == 2 and class_embeds.shape[0] == video_embeds.shape[0]
    if class_embeds.dim() != 2 and not per_video:
        raise ValueError(
            f"The cosine head scores one embedding per class, (num_classes, dim), or one bank per video, (batch, "
            f"num_classes, dim); got class_embeds of shape {tuple(class_embeds.shape)} for video_embeds of shape "
            f"{tuple(video_embeds.shape)}. Reduce K prompts per class with `get_class_embeddings` / "
            "`template_ensemble` first."
        )
    with autocast_off(video_embeds.device):
        video = full_precision(video_embeds)
        classes = full_precision(class_embeds)
        dtype = torch.promote_types(video.dtype, classes.dtype)
        video = F.normalize(video.to(dtype), dim=-1) if normalize_video else video.to(dtype)
        classes = F.normalize(classes.to(dtype), dim=-1)
        similarity = torch.einsum("bd,bcd->bc", video, classes) if per_video else video @ classes.t()
        return logit_scale_factor(logit_scale, dtype) * similarity


class VideoClipCosineHead(nn.Module):
    """Scoring head `"cosine"` (no parameters): `exp(logit_scale) * cos(video, class)`.

    Its class bank is one embedding per class, `(C, D)`: the template ensemble of `get_class_embeddings`. Per-frame
    embeddings are accepted (the head interface is shared with heads that use them) and ignored. With
    `config.frame_pooling == "logits"` the video embedding (the mean of unit frame embeddings, `pool_frames`) is
    scored without renormalising: the per-frame logits averaged, as Open-VCLIP and FROSTER score.
    Corresponds to the logits of `CLIPModel.forward`.
    """

    def __init__(self, config: VideoClipConfig | None = None):
        super().__init__()
        self.config = config  # read at every call: `frame_pooling` may be set after the head is built

    def forward(self, video_embeds: torch.Tensor, class_embeds: torch.Tensor, logit_scale: torch.Tensor | float,
                frame_embeds: torch.Tensor | None = None) -> torch.Tensor:
        pooled_logits = getattr(self.config, "frame_pooling", "features") == "logits"
        return scaled_cosine_logits(video_embeds, class_embeds, logit_scale, normalize_video=not pooled_logits)


def combine_view_logits(view_logits: torch.Tensor, view_pooling: str = "logits") -> torch.Tensor:
    """Class probabilities of videos from the logits of their test views (`VideoClipConfig.view_pooling`).

    Args:
        view_logits: `(B, V, C)` logits of V views of each of B videos.
        view_pooling: `"logits"`: softmax of the view-averaged logits (Open-VCLIP / FROSTER: SlowFast's test meter
            sums the views' logits); `"probabilities"`: the mean of the views' softmax (ViFi-CLIP and OST
            `main*.py` `validate`: `tot_similarity += output.softmax(dim=-1)`). The mean ranks as the sum does.

    Returns:
        `(B, C)` float32 probabilities (each row sums to 1).
    """
    if view_logits.dim() != 3:
        raise ValueError(f"combine_view_logits expects (videos, views, classes) logits, got shape "
                         f"{tuple(view_logits.shape)}.")
    logits = view_logits.float()
    if view_pooling == "logits":
        return logits.mean(dim=1).softmax(dim=-1)
    if view_pooling == "probabilities":
        return logits.softmax(dim=-1).mean(dim=1)
    raise ValueError(f"view_pooling={view_pooling!r} is not supported; use 'logits' or 'probabilities'.")


@dataclass
class VideoClipDescriptorBank:
    """The class bank of the `"optimal_descriptor"` head: per class, the unit-norm embeddings of its spatial and
    temporal descriptors (`get_descriptor_embeddings`).

    Attributes:
        spatial: `(C, N_s, D)`; temporal: `(C, N_t, D)`.
        spatial_mask, temporal_mask: optional bool `(C, N_s)` / `(C, N_t)` for uneven descriptor counts: true for a
            class's real descriptors, false for padding rows (a repeat of a real prompt, scored out by the head's
            masked transport). None: every row is real.
    Indexing selects classes (`bank[[0, 2]]`, `bank[labels]`), as rows of a `(C, D)` cosine bank do.
    """

    spatial: torch.Tensor
    temporal: torch.Tensor
    spatial_mask: torch.Tensor | None = None
    temporal_mask: torch.Tensor | None = None

    def __post_init__(self):
        if self.spatial.dim() != 3 or self.temporal.dim() != 3 or self.spatial.shape[0] != self.temporal.shape[0]:
            raise ValueError(f"VideoClipDescriptorBank needs spatial (C, N_s, D) and temporal (C, N_t, D) with the same "
                             f"C; got {tuple(self.spatial.shape)} and {tuple(self.temporal.shape)}.")
        for kind, embeds, mask in (("spatial", self.spatial, self.spatial_mask),
                                   ("temporal", self.temporal, self.temporal_mask)):
            if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != tuple(embeds.shape[:2])):
                raise ValueError(f"VideoClipDescriptorBank: {kind}_mask must be a bool tensor of shape "
                                 f"{tuple(embeds.shape[:2])} (C, N), got {mask.dtype} {tuple(mask.shape)}.")

    def __len__(self) -> int:
        return self.spatial.shape[0]

    @property
    def shape(self) -> torch.Size:
        """`(C, D)`: the shape of the cosine bank this bank stands in for."""
        return torch.Size((self.spatial.shape[0], self.spatial.shape[-1]))

    def __getitem__(self, index) -> VideoClipDescriptorBank:
        return VideoClipDescriptorBank(self.spatial[index], self.temporal[index], _index_mask(self.spatial_mask, index),
                                       _index_mask(self.temporal_mask, index))

    def to(self, *args, **kwargs) -> VideoClipDescriptorBank:
        """Embeddings moved/cast as `Tensor.to`; masks follow to the device and stay bool."""
        spatial, temporal = self.spatial.to(*args, **kwargs), self.temporal.to(*args, **kwargs)
        return VideoClipDescriptorBank(spatial, temporal, _move_mask(self.spatial_mask, spatial.device),
                                       _move_mask(self.temporal_mask, temporal.device))

    def float(self) -> VideoClipDescriptorBank:
        return self.to(torch.float32)

    def detach(self) -> VideoClipDescriptorBank:
        return VideoClipDescriptorBank(self.spatial.detach(), self.temporal.detach(), self.spatial_mask,
                                       self.temporal_mask)


def _index_mask(mask: torch.Tensor | None, index):
    if mask is None:
        return None
    return mask[index.to(mask.device) if isinstance(index, torch.Tensor) else index]


def _move_mask(mask: torch.Tensor | None, device: torch.device):
    return None if mask is None else mask.to(device)


def pad_descriptor_rows(rows: list[list[str]]) -> tuple[list[list[str]], torch.Tensor | None]:
    """C rows of 1+ prompts, counts possibly uneven -> (rows padded to the longest by repeating each row's first
    prompt, so tokenisation stays valid, and the bool mask (C, N) of real prompts; None when no row is padded)."""
    if any(not row for row in rows):
        raise ValueError("A label has an empty descriptor list; give every label at least one descriptor.")
    width = max(len(row) for row in rows)
    if all(len(row) == width for row in rows):
        return [list(row) for row in rows], None
    padded = [list(row) + [row[0]] * (width - len(row)) for row in rows]
    mask = torch.tensor([[n < len(row) for n in range(width)] for row in rows], dtype=torch.bool)
    return padded, mask


class VideoClipOptimalDescriptorHead(nn.Module):
    """Scoring head `"optimal_descriptor"` (OST, no parameters): frames against descriptor sets by optimal transport.

    `logit = exp(logit_scale) * (0.5 (pool_s + OT_s) + 0.5 (pool_t + OT_t))` (`optimal_descriptor_logits`); needs
    the per-frame embeddings `(B, T, D)` and a `VideoClipDescriptorBank`. Sinkhorn settings: OST's (epsilon 0.1,
    up to 100 iterations, tolerance 1e-2), overridable by `config.sinkhorn_epsilon` / `sinkhorn_max_iter` /
    `sinkhorn_tol` when present.
    """

    def __init__(self, config: VideoClipConfig | None = None):
        super().__init__()
        self.epsilon = getattr(config, "sinkhorn_epsilon", 0.1)
        self.max_iter = getattr(config, "sinkhorn_max_iter", 100)
        self.tol = getattr(config, "sinkhorn_tol", 1e-2)

    def forward(self, video_embeds: torch.Tensor, class_embeds: VideoClipDescriptorBank,
                logit_scale: torch.Tensor | float, frame_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(class_embeds, VideoClipDescriptorBank):
            raise TypeError(f"The 'optimal_descriptor' head scores against descriptor sets: pass a "
                            f"VideoClipDescriptorBank (model.get_descriptor_embeddings, or "
                            f"hfvideoclip.text.class_embeddings.class_bank with descriptors), not "
                            f"{type(class_embeds).__name__}.")
        if frame_embeds is None:
            raise ValueError("The 'optimal_descriptor' head needs the per-frame embeddings: call "
                             "get_video_features(..., return_frame_embeds=True) and pass frame_embeds=.")
        return optimal_descriptor_logits(frame_embeds, class_embeds.spatial, class_embeds.temporal, logit_scale,
                                         epsilon=self.epsilon, max_iter=self.max_iter, tol=self.tol,
                                         spatial_mask=class_embeds.spatial_mask,
                                         temporal_mask=class_embeds.temporal_mask)


VIDEO_CLIP_SCORING_HEADS: dict[str, type[nn.Module]] = {"cosine": VideoClipCosineHead,
                                                        "optimal_descriptor": VideoClipOptimalDescriptorHead}
"""`config.scoring_head` -> head class. A head is built as `cls(config)` and called as
`head(video_embeds (B, D), class_bank, logit_scale, frame_embeds=(B, T, D) or None) -> (B, C)`. Keep the keys equal to
`configuration_video_clip.SCORING_HEADS`."""


# ------------------------------------------------------------------------------------------------ layout
@dataclass(frozen=True)
class VideoClipLayout:
    """How a clip is laid out in the token sequences of the vision encoder; every encoder layer and its attention
    receive it (`layer(hidden_states, layout=layout)`), in every temporal mode.

    Attributes:
        batch_size: videos in the batch (B).
        num_frames: frames per video (T).
        grid_height, grid_width: the patch grid of one frame (H, W); N = H * W patches, row-major (index h * W + w).
        temporal_mode: `config.temporal_mode` (`"mean"`, `"vclip"`, `"viclip"`).
        token_order: `"frame"`: hidden states are `(B * T, 1 + N, D)`, one sequence per frame with its class token
            first (`mean`, `vclip`); `"space_major"`: `(B, 1 + N * T, D)`, one class token per video, then patch n of
            frame t at index `1 + n * T + t` (`viclip`, as ViCLIP).
        vclip_edge: `config.vclip_edge` (used by `vclip` attention).

    `patch_grid(hidden)` gives the `(B, T, H, W, D)` grid of patch tokens and `tokens_from_grid(grid, class_tokens)`
    its inverse; `D` may differ from the model width (e.g. an adapter's bottleneck).
    """

    batch_size: int
    num_frames: int
    grid_height: int
    grid_width: int
    temporal_mode: str = "mean"
    token_order: str = "frame"
    vclip_edge: str = "zero"

    def __post_init__(self):
        if self.token_order not in TOKEN_ORDERS:
            raise ValueError(f"VideoClipLayout.token_order={self.token_order!r}; use one of {', '.join(TOKEN_ORDERS)}.")

    @classmethod
    def for_clip(cls, batch_size: int, num_frames: int, grid_height: int, grid_width: int, temporal_mode: str,
                 vclip_edge: str = "zero") -> VideoClipLayout:
        """The layout `VideoClipVisionTransformer` uses for `temporal_mode` (`viclip` is space-major)."""
        order = "space_major" if temporal_mode == "viclip" else "frame"
        return cls(batch_size, num_frames, grid_height, grid_width, temporal_mode, order, vclip_edge)

    @property
    def num_patches(self) -> int:
        return self.grid_height * self.grid_width

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """The leading `(rows, length)` of the hidden states: `(B * T, 1 + N)` or `(B, 1 + N * T)`."""
        if self.token_order == "frame":
            return self.batch_size * self.num_frames, 1 + self.num_patches
        return self.batch_size, 1 + self.num_patches * self.num_frames

    def _check(self, hidden: torch.Tensor) -> None:
        if hidden.dim() != 3 or tuple(hidden.shape[:2]) != self.sequence_shape:
            raise ValueError(
                f"VideoClipLayout ({self.token_order} order, B={self.batch_size}, T={self.num_frames}, "
                f"grid {self.grid_height}x{self.grid_width}) expects hidden states of shape "
                f"{self.sequence_shape + ('D',)}, got {tuple(hidden.shape)}.")

    def class_tokens(self, hidden: torch.Tensor) -> torch.Tensor:
        """The class tokens: `(B, T, D)` for `"frame"` order (one per frame), `(B, 1, D)` for `"space_major"`."""
        self._check(hidden)
        if self.token_order == "frame":
            return hidden[:, 0].reshape(self.batch_size, self.num_frames, hidden.shape[-1])
        return hidden[:, :1]

    def patch_grid(self, hidden: torch.Tensor) -> torch.Tensor:
        """Patch tokens as a `(B, T, H, W, D)` grid: entry `[b, t, h, w]` is the patch at row h, column w of frame t
        of video b. Class tokens are left out (`class_tokens`)."""
        self._check(hidden)
        batch, frames, height, width, dim = (self.batch_size, self.num_frames, self.grid_height, self.grid_width,
                                             hidden.shape[-1])
        patches = hidden[:, 1:]
        if self.token_order == "frame":
            return patches.reshape(batch, frames, height, width, dim)
        # space-major: index n * T + t
        return patches.reshape(batch, height * width, frames, dim).transpose(1, 2).reshape(
            batch, frames, height, width, dim)

    def tokens_from_grid(self, grid: torch.Tensor, class_tokens: torch.Tensor | None = None) -> torch.Tensor:
        """Inverse of `patch_grid`: `(B, T, H, W, D)` (+ class tokens shaped as `class_tokens` returns them) -> hidden
        states in this layout. Without `class_tokens` the class-token positions are zero (an adapter's delta)."""
        expected = (self.batch_size, self.num_frames, self.grid_height, self.grid_width)
        if grid.dim() != 5 or tuple(grid.shape[:4]) != expected:
            raise ValueError(f"VideoClipLayout.tokens_from_grid expects a grid of shape {expected + ('D',)}, got "
                             f"{tuple(grid.shape)}.")
        batch, frames, dim = self.batch_size, self.num_frames, grid.shape[-1]
        cls_shape = (batch, frames, dim) if self.token_order == "frame" else (batch, 1, dim)
        if class_tokens is None:
            class_tokens = grid.new_zeros(cls_shape)
        elif tuple(class_tokens.shape) != cls_shape:
            raise ValueError(f"class_tokens must have shape {cls_shape} for {self.token_order} order, got "
                             f"{tuple(class_tokens.shape)}.")
        if self.token_order == "frame":
            patches = grid.reshape(batch * frames, self.num_patches, dim)
            return torch.cat([class_tokens.reshape(batch * frames, 1, dim), patches], dim=1)
        patches = grid.reshape(batch, frames, self.num_patches, dim).transpose(1, 2).reshape(
            batch, self.num_patches * frames, dim)
        return torch.cat([class_tokens, patches], dim=1)


@dataclass
class VideoClipOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): cross-entropy of `logits_per_video` against `labels`.
        logits_per_video (`torch.FloatTensor` of shape `(video_batch_size, text_batch_size)`): scaled cosine
            similarities between video and text embeddings.
        logits_per_text (`torch.FloatTensor` of shape `(text_batch_size, video_batch_size)`): the transpose.
        video_embeds (`torch.FloatTensor` of shape `(video_batch_size, projection_dim)`): L2-normalised.
        text_embeds (`torch.FloatTensor` of shape `(text_batch_size, projection_dim)`): L2-normalised class
            embeddings (`get_class_embeddings`: the template ensemble when `input_ids` has K prompts per class).
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

    `mean`/`viclip` (or no `layout`): ordinary self-attention over the given sequence. `vclip`: the input is
    (batch * frames, L, D); queries of frame t attend to the tokens of frames t+1, t-1 and t (3L keys), as
    `VCLIPAttention` in Open-VCLIP.
    """

    def forward(self, hidden_states: torch.Tensor, layout: VideoClipLayout | None = None) -> torch.Tensor:
        batch_frames, length, _ = hidden_states.shape
        heads, head_dim = self.num_heads, self.head_dim

        def split_heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(x.shape[0], x.shape[1], heads, head_dim).transpose(1, 2)

        queries = split_heads(self.q_proj(hidden_states))
        mask = None
        if layout is not None and layout.temporal_mode == "vclip":
            batch = batch_frames // layout.num_frames
            keys = _neighbour_frames(self.k_proj(hidden_states), batch, layout.num_frames, heads, head_dim)
            values = _neighbour_frames(self.v_proj(hidden_states), batch, layout.num_frames, heads, head_dim)
            if layout.vclip_edge == "mask":
                mask = _neighbour_edge_mask(batch, layout.num_frames, length, hidden_states.device)
        else:
            keys, values = split_heads(self.k_proj(hidden_states)), split_heads(self.v_proj(hidden_states))
        dropout = self.dropout if self.training else 0.0
        output = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, dropout_p=dropout,
                                                scale=self.scale)
        output = output.transpose(1, 2).reshape(batch_frames, length, self.embed_dim)
        return self.out_proj(output)


def _neighbour_frames(projected: torch.Tensor, batch: int, num_frames: int, heads: int, head_dim: int
                      ) -> torch.Tensor:
    """Keys or values of the neighbour-frame attention, head-major and contiguous for one fused SDPA call.

    projected: (batch * T, L, D) after the key/value projection -> (batch * T, heads, 3L, head_dim): for frame t the
    tokens of frames t+1, t-1 and t, in that order (Open-VCLIP's `expand_temporal_view`). Missing neighbours at the
    clip edges are zero vectors inserted after the projection: they take softmax mass with logit 0, as in the
    official code. The heads are split first (one contiguous copy), then the three frame blocks are joined along
    the key axis: measured on the CPU, this is 0.74x the time of joining (B*T, L, D) blocks and transposing after
    (`benchmarks/bench_model.py` times the whole layer against the frame mean).

    Eager without autograd (inference), the three blocks are written straight into one buffer from the
    projection's layout: 3 writes of the tensor's size instead of 6 (head split, two shifted copies, the join),
    0.54x the time on the CPU (ViT-B/16 shapes). With autograd the joins stay, whose backward is a few slices (the
    buffer's slice assignments backpropagate 4x slower on the CPU); so they do under `torch.compile`, which fuses
    the joins (the buffer's slice writes compile to 2.3x the joins' time on the CPU).
    """
    length = projected.shape[1]
    if not torch.is_grad_enabled() and not torch.compiler.is_compiling():
        x = projected.view(batch, num_frames, length, heads, head_dim).transpose(2, 3)  # (B, T, H, L, hd), a view
        out = projected.new_empty(batch, num_frames, heads, 3, length, head_dim)
        out[:, :-1, :, 0] = x[:, 1:]  # frame t+1
        out[:, -1, :, 0] = 0
        out[:, 1:, :, 1] = x[:, :-1]  # frame t-1
        out[:, 0, :, 1] = 0
        out[:, :, :, 2] = x  # frame t
        return out.view(batch * num_frames, heads, 3 * length, head_dim)
    x = projected.view(batch * num_frames, length, heads, head_dim).transpose(1, 2)
    x = x.reshape(batch, num_frames, heads, length, head_dim)  # contiguous, head-major
    zeros = x.new_zeros(batch, 1, heads, length, head_dim)
    following = torch.cat([x[:, 1:], zeros], dim=1)  # frame t+1
    previous = torch.cat([zeros, x[:, :-1]], dim=1)  # frame t-1
    return torch.cat([following, previous, x], dim=3).view(batch * num_frames, heads, 3 * length, head_dim)


def _neighbour_edge_mask(batch: int, num_frames: int, length: int, device) -> torch.Tensor:
    """`vclip_edge="mask"`: (batch * T, 1, 1, 3L) boolean, True = attend; the missing neighbours are masked out."""
    frame = torch.arange(num_frames, device=device)
    has_next = (frame < num_frames - 1).view(num_frames, 1).expand(num_frames, length)
    has_prev = (frame > 0).view(num_frames, 1).expand(num_frames, length)
    present = torch.ones(num_frames, length, dtype=torch.bool, device=device)
    mask = torch.cat([has_next, has_prev, present], dim=1)  # (T, 3L)
    return mask.repeat(batch, 1).view(batch * num_frames, 1, 1, 3 * length)


class VideoClipEncoderLayer(AdaptedLayer, GradientCheckpointingLayer):
    """A CLIP encoder block (pre-norm attention + MLP), with the video-aware attention above.

    Corresponds to `CLIPEncoderLayer` (same parameter names) / `ResidualAttentionBlock` in the original CLIP. Called
    as `layer(hidden_states, layout=layout)`; `layout` (a `VideoClipLayout`) goes on to the attention. With an
    attached adapter (`config.adapter`, `add_adapters`) its output adds the adapter's (`bottleneck_adapters.py`).
    """

    def __init__(self, config):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = VideoClipAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor, layout: VideoClipLayout | None = None) -> torch.Tensor:
        # VPT-deep (visual_prompts.py): this block's prompts follow the class token inside the block only, so the
        # sequence (and `layout`) outside it is unchanged. One `config.adapter` type per model: a prompted block has
        # no ST-Adapter or bottleneck adapter reading the layout's patch grid.
        hidden_states = insert_prompts(self, hidden_states)
        hidden_states = st_adapt(self, "st_adapter_attention", hidden_states, layout)  # ST-Adapter (st_adapter.py)
        output = hidden_states + self.self_attn(self.layer_norm1(hidden_states), layout=layout)
        output = st_adapt(self, "st_adapter_mlp", output, layout)
        output = output + self.mlp(self.layer_norm2(output))
        return strip_prompts(self, self.adapter_output(output, hidden_states, layout))


class VideoClipTextEncoderLayer(AdaptedLayer, CLIPEncoderLayer):
    """transformers' `CLIPEncoderLayer` (same parameters, same call) with an adapter attached (`add_adapters`):
    hidden states `(batch, length, D)`. Only adapted text blocks take this class."""

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        return self.adapter_output(super().forward(hidden_states, *args, **kwargs), hidden_states)


class VideoClipEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList([VideoClipEncoderLayer(config) for _ in range(config.num_hidden_layers)])


class VideoClipVisionTransformer(nn.Module):
    """CLIP's vision transformer applied to a clip of frames.

    Input (batch, T, 3, H, W). Output: pooled tokens after `post_layernorm`, (batch, T, width) for `mean`/`vclip`
    (one class token per frame) or (batch, 1, width) for `viclip` (one class token per video). Every encoder layer is
    called as `layer(hidden, layout=layout)` with the clip's `VideoClipLayout`.
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
        patch_size = self.embeddings.patch_size
        layout = VideoClipLayout.for_clip(batch, num_frames, frames.shape[-2] // patch_size,
                                          frames.shape[-1] // patch_size, self.temporal_mode, self.vclip_edge)
        for layer in self.encoder.layers:
            hidden = layer(hidden, layout=layout)
        pooled = self.post_layernorm(hidden[:, 0])
        return pooled.view(batch, -1, pooled.shape[-1])


def text_encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The text tower's `encoder.layers` of a `VideoClipModel` (`CLIPTextModel.text_model.encoder` in some
    transformers releases, `CLIPTextModel.encoder` in others)."""
    text_model = model.text_model
    encoder = getattr(text_model, "encoder", None)
    if encoder is None:
        encoder = text_model.text_model.encoder
    return encoder.layers


def _adapter_placement(layer: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype for a new adapter next to `layer`: float32 when the layer is float16/bfloat16."""
    weight = layer.layer_norm1.weight
    dtype = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
    return weight.device, dtype


def add_adapters(model: nn.Module, spec: dict) -> None:
    """Build the bottleneck adapters that `spec` (a `VideoClipConfig.adapter` dict) describes into `model`, in
    place: an `adapter` in each adapted block (adapted text blocks become `VideoClipTextEncoderLayer`) and the
    shared middle projections in `model.msta_shared` (keyed by 0-based block index). Fresh MSTA initialisation."""
    vision_layers, text_layers = model.vision_model.encoder.layers, text_encoder_layers(model)
    if spec["type"] == "st_adapter":  # vision tower only (st_adapter.py)
        return add_st_adapters(vision_layers, spec)
    if spec["type"] == "prompts":  # VPT-deep, vision tower only (visual_prompts.py)
        return add_visual_prompts(vision_layers, spec, model.config.vision_config.patch_size)
    if "msta_shared" in model._modules or any("adapter" in layer._modules for layer in [*vision_layers,
                                                                                         *text_layers]):
        raise ValueError("This VideoClipModel already has adapters (config.adapter); add them once.")
    model.msta_shared = nn.ModuleDict()
    for index in adapter_shared_indices(spec, len(vision_layers), len(text_layers)):
        device, dtype = _adapter_placement(vision_layers[index])
        model.msta_shared[str(index)] = MstaProjection(spec["dim"]).to(device=device, dtype=dtype)
    for tower, layers, temporal in (("vision", vision_layers, spec["temporal"]), ("text", text_layers, False)):
        for index in adapter_layer_indices(spec, len(layers), tower):
            layer = layers[index]
            if tower == "text":
                if type(layer) is not CLIPEncoderLayer:
                    raise TypeError(f"Text block {index} is a {type(layer).__name__}; adapters attach to "
                                    "transformers' CLIPEncoderLayer.")
                layer.__class__ = VideoClipTextEncoderLayer  # same parameters and call, plus the adapter
            shared = model.msta_shared[str(index)] if str(index) in model.msta_shared else None
            device, dtype = _adapter_placement(layer)
            adapter = MstaAdapter(layer.layer_norm1.normalized_shape[0], spec["dim"], spec["dropout"],
                                  temporal=temporal, own_projection=spec["mid_projection"] and shared is None)
            layer.attach(adapter.to(device=device, dtype=dtype), spec["scale"], shared, spec["gradient_scaling"])


def remove_adapters(model: nn.Module) -> None:
    """Undo `add_adapters` in place (blocks back to their plain classes, `msta_shared` dropped); sets
    `config.adapter = None`."""
    for layer in [*model.vision_model.encoder.layers, *text_encoder_layers(model)]:
        layer._modules.pop("adapter", None)
        if type(layer) is VideoClipTextEncoderLayer:
            layer.__class__ = CLIPEncoderLayer
    model._modules.pop("msta_shared", None)
    remove_st_adapters(model.vision_model.encoder.layers)
    remove_visual_prompts(model.vision_model.encoder.layers)
    model.config.adapter = None


class VideoClipPreTrainedModel(PreTrainedModel):
    config_class = VideoClipConfig
    config: VideoClipConfig
    base_model_prefix = "video_clip"
    main_input_name = "pixel_values_videos"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoClipEncoderLayer", "VideoClipTextEncoderLayer", "CLIPEncoderLayer", "CLIPTextEmbeddings", "CLIPVisionEmbeddings"]
    _supports_sdpa = True
    # The forward takes no **kwargs: the Trainer then scales the loss for gradient accumulation itself.
    accepts_loss_kwargs = False

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`, plus the pipeline code (`PIPELINE_CODE_FILE` and the files it imports)
        and `custom_pipelines` in config.json when the model is saved with its code (`trust_remote_code`), so the
        folder also serves `pipeline(..., trust_remote_code=True)`. Not through an import in this file: transformers releases before
        5.23 copy only the direct relative imports of a remote module, not theirs."""
        ships_code = getattr(self, "_auto_class", None) is not None and Path(__file__).with_name(
            PIPELINE_CODE_FILE).is_file()
        previous = self.config.__dict__.get("custom_pipelines")
        if ships_code:  # config.json names the shipped pipeline; the config in memory is left as it was
            self.config.custom_pipelines = {**(previous or {}), **CUSTOM_PIPELINES}
        try:
            result = super().save_pretrained(save_directory, *args, **kwargs)
        finally:
            if previous is None:
                self.config.__dict__.pop("custom_pipelines", None)
            else:
                self.config.custom_pipelines = previous
        if ships_code and kwargs.get("is_main_process", True):
            import shutil

            from transformers.dynamic_module_utils import get_relative_import_files

            pipeline_file = Path(__file__).with_name(PIPELINE_CODE_FILE)
            for source in [str(pipeline_file), *get_relative_import_files(str(pipeline_file))]:
                target = Path(save_directory) / Path(source).name
                if not target.exists():
                    shutil.copyfile(source, target)
        return result

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


def text_attention_mask(padding_mask: torch.Tensor, attn_implementation: str | None,
                        dtype: torch.dtype) -> torch.Tensor:
    """The text tower's causal mask with padding, built without reading the padding mask on the host.

    Given a 2-D padding mask, transformers' mask builder first asks whether any prompt is padded
    (`padding_mask.all()`, a host read: one GPU synchronisation per text forward, i.e. per training step with a
    trained text tower) to decide whether SDPA may run with `is_causal` alone. A 4-D mask is taken as it is, so
    building it here skips that question. Query i attends the tokens j <= i, and always itself: a padding query's row
    is then never empty (left padding would give SDPA an all-masked row, hence NaN), and its output is unused, since
    CLIP pools the text at its EOS token, which attends tokens only. So the pooled output equals transformers' own
    for right, left or no padding.

    padding_mask: (N, L), 1 for tokens, 0 for padding -> (N, 1, L, L): boolean (True = attend) for `"sdpa"`,
    additive (0, or the lowest value of `dtype`) for `"eager"`. Other implementations (flash, flex, custom, or none
    set yet), which transformers handles its own way, get the 2-D mask unchanged.
    """
    if attn_implementation not in ("sdpa", "eager"):
        return padding_mask
    length = padding_mask.shape[-1]
    positions = torch.arange(length, device=padding_mask.device)
    causal = positions.view(length, 1) >= positions.view(1, length)  # (L, L), query i sees keys j <= i
    itself = positions.view(length, 1) == positions.view(1, length)
    allowed = causal & (padding_mask.bool()[:, None, None, :] | itself)  # (N, 1, L, L)
    if attn_implementation == "eager":
        zero = torch.zeros((), dtype=dtype, device=allowed.device)
        return torch.where(allowed, zero, torch.finfo(dtype).min)
    return allowed


PIPELINE_CODE_FILE = "pipeline_video_clip.py"
"""The zero-shot pipeline shipped next to this file: `save_pretrained` copies it (and the files it imports) next to
the weights and points `config.custom_pipelines` at it (`CUSTOM_PIPELINES`)."""
CUSTOM_PIPELINES = {"zero-shot-video-classification": {
    "impl": "pipeline_video_clip.ZeroShotVideoClassificationPipeline", "pt": ["AutoModel"], "tf": [],
    "type": "multimodal"}}
"""The `custom_pipelines` entry of a saved config.json: `pipeline("zero-shot-video-classification", model=folder or
Hub id, trust_remote_code=True)` then runs the shipped pipeline where the package is not installed. Where it is,
its `VideoClipConfig` leaves the entry out when loading, so `pipeline(task, model=folder)` runs the registered
task without `trust_remote_code`."""


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
        head = getattr(config, "scoring_head", "cosine")
        if head not in VIDEO_CLIP_SCORING_HEADS:
            raise ValueError(f"VideoClipConfig.scoring_head={head!r} has no head in this modeling file; available: "
                             f"{', '.join(VIDEO_CLIP_SCORING_HEADS)}.")
        self.scoring_head = VIDEO_CLIP_SCORING_HEADS[head](config)
        if getattr(config, "adapter", None):
            add_adapters(self, config.adapter)
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
        """(batch, T, D) -> (batch, D), by `config.frame_pooling`. `"features"`: the average of projected frames
        (equals CLIP image features averaged); `"logits"`: the average of L2-normalised frames, which the cosine
        head scores unnormalised, so the logit is the mean of the per-frame logits (Open-VCLIP, FROSTER)."""
        if self.config.frame_pooling == "logits":
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
        if attention_mask is not None and attention_mask.dim() == 2:
            attention_mask = text_attention_mask(attention_mask, self.text_model.config._attn_implementation,
                                                 self.text_model.embeddings.token_embedding.weight.dtype)
        outputs = self.text_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        # Some transformers releases (5.6) return the pooled text in float32 from a bfloat16 tower.
        return self.text_projection(outputs.pooler_output.to(self.text_projection.weight.dtype))

    def get_class_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                             position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Unit-norm class embeddings, (num_classes, projection_dim): the class bank of the cosine head.

        `input_ids` (and `attention_mask`) of shape (C, K, L), K prompts per class (templates), or (C, L), one prompt
        per class. Each prompt embedding is L2-normalised, averaged over K and renormalised (`template_ensemble`).
        float32 when the model runs in float16/bfloat16; differentiable (the text tower can train through it).
        """
        if input_ids.dim() not in (2, 3):
            raise ValueError(f"get_class_embeddings expects input_ids of shape (num_classes, num_prompts, length) or "
                             f"(num_classes, length), got {tuple(input_ids.shape)}.")
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                             f"{tuple(input_ids.shape)}.")
        num_classes, length = input_ids.shape[0], input_ids.shape[-1]
        num_prompts = input_ids.shape[1] if input_ids.dim() == 3 else 1

        def flat(x: torch.Tensor | None) -> torch.Tensor | None:
            return x.reshape(num_classes * num_prompts, length) if x is not None and x.shape == input_ids.shape else x

        features = self.get_text_features(flat(input_ids), flat(attention_mask), flat(position_ids))
        return template_ensemble(features.view(num_classes, num_prompts, -1))

    def get_descriptor_embeddings(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
                                  ) -> torch.Tensor:
        """Unit-norm embeddings of each class's descriptor prompts, (num_classes, N, projection_dim): one row of a
        `VideoClipDescriptorBank` (no averaging: the `"optimal_descriptor"` head matches them to frames).

        `input_ids` (and `attention_mask`) of shape (C, N, L). float32 for half-precision models; differentiable.
        """
        if input_ids.dim() != 3:
            raise ValueError(f"get_descriptor_embeddings expects input_ids of shape (num_classes, num_descriptors, "
                             f"length), got {tuple(input_ids.shape)}.")
        num_classes, num_descriptors, length = input_ids.shape
        mask = attention_mask.reshape(-1, length) if attention_mask is not None else None
        features = self.get_text_features(input_ids.reshape(-1, length), mask)
        with autocast_off(features.device):
            unit = F.normalize(full_precision(features), dim=-1)
        return unit.view(num_classes, num_descriptors, -1)

    def compute_logits(self, video_embeds: torch.Tensor, class_embeds: torch.Tensor,
                       frame_embeds: torch.Tensor | None = None,
                       logit_scale: torch.Tensor | float | None = None) -> torch.Tensor:
        """Video-class logits (batch, num_classes) from the configured scoring head (`config.scoring_head`).

        Args:
            video_embeds: (batch, projection_dim), any norm (`get_video_features`).
            class_embeds: the head's class bank; for `"cosine"` (num_classes, projection_dim), any norm
                (`get_class_embeddings`); for `"optimal_descriptor"` a `VideoClipDescriptorBank`.
            frame_embeds: (batch, T, projection_dim) per-frame embeddings (`get_video_features(...,
                return_frame_embeds=True)`), for heads that score frames; ignored by `"cosine"`.
            logit_scale: log-scale to use instead of `self.logit_scale` (e.g. interpolated weights).

        `"cosine"`: `exp(logit_scale) * cos(video, class)`, float32 for half-precision inputs, differentiable in the
        embeddings and in `logit_scale`.
        """
        scale = self.logit_scale if logit_scale is None else logit_scale
        return self.scoring_head(video_embeds, class_embeds, scale, frame_embeds=frame_embeds)

    def set_scoring_head(self, name: str) -> None:
        """Switch `config.scoring_head` (saved with the model) and the head module, e.g. to `"optimal_descriptor"`
        for OST. Heads have no parameters, so the weights are unchanged."""
        if name not in VIDEO_CLIP_SCORING_HEADS:
            raise ValueError(f"scoring_head {name!r} is not available; choose one of "
                             f"{', '.join(VIDEO_CLIP_SCORING_HEADS)}.")
        self.config.scoring_head = name
        self.scoring_head = VIDEO_CLIP_SCORING_HEADS[name](self.config)

    def compile_towers(self, regional: bool = True, **compile_kwargs) -> VideoClipModel:
        """Compile the vision and text towers in place with `torch.compile` (`nn.Module.compile`); returns `self`.

        `regional=True` (default) compiles each transformer block (every `GradientCheckpointingLayer`: the video
        encoder layers and CLIP's text encoder layers): the blocks of a tower share one compiled graph, so a
        ViT-B compiles in seconds rather than minutes, and the code between blocks (embedding, temporal
        pooling, scoring) stays eager, so methods that call the towers in unusual ways (interpolated weights
        through `torch.func.functional_call`, teachers, a text tower under `no_grad`) keep working unchanged.
        `regional=False` compiles the two transformers whole (fewer kernel launches, longer compile).
        The module stays a `VideoClipModel` (state-dict keys, `save_pretrained`, the pipeline and the evaluator
        are unchanged). `compile_kwargs` go to `torch.compile` (`backend`, `mode`, `dynamic`, ...).
        """
        if regional:
            for module in self.modules():
                if isinstance(module, GradientCheckpointingLayer):
                    module.compile(**compile_kwargs)
        else:
            self.vision_model.compile(**compile_kwargs)
            self.text_model.compile(**compile_kwargs)
        return self

    @torch.no_grad()
    def clamp_logit_scale_(self, max_scale: float = LOGIT_SCALE_MAX) -> None:
        """Keep `exp(logit_scale) <= max_scale` by clamping the parameter in place (after an optimizer step)."""
        self.logit_scale.clamp_(max=math.log(max_scale))

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        return_dict: bool | None = None,
    ) -> VideoClipOutput | tuple:
        """Video-text similarities. `labels` (batch,) index the texts: then `loss` is their cross-entropy.

        `input_ids` (num_texts, L), one text per class, or (num_classes, K, L), K prompts per class (template
        ensemble); the class embeddings come from `get_class_embeddings`, the logits from `compute_logits`.
        """
        if input_ids is None or pixel_values_videos is None:
            raise ValueError("VideoClipModel.forward needs both `input_ids` (class texts) and `pixel_values_videos`; "
                             "for one modality use get_text_features / get_video_features.")
        video, frames = self.get_video_features(pixel_values_videos, return_frame_embeds=True)
        text = self.get_class_embeddings(input_ids, attention_mask, position_ids)
        logits_per_video = self.compute_logits(video, text, frame_embeds=frames)
        loss = F.cross_entropy(logits_per_video, labels) if labels is not None else None
        output = VideoClipOutput(loss=loss, logits_per_video=logits_per_video, logits_per_text=logits_per_video.t(),
                                 video_embeds=F.normalize(video, dim=-1), text_embeds=text, frame_embeds=frames)
        if return_dict is False:
            return output.to_tuple()
        return output

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`, remembering where the files came from (`hub_kwargs`: revision,
        token, cache_dir, local_files_only, subfolder) so the pipeline reads the processor and `descriptors.json`
        of the same revision."""
        model = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model.hub_kwargs = {k: kwargs[k] for k in HUB_ARGUMENTS if kwargs.get(k) not in (None, False, "")}
        return model

    @classmethod
    def from_clip(cls, name_or_path, temporal_mode: str = "mean", num_frames: int = 8, vclip_edge: str = "zero",
                  image_mean=None, image_std=None, scoring_head: str = "cosine", frame_pooling: str | None = None,
                  view_pooling: str | None = None, **kwargs) -> VideoClipModel:
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
        image_mean, image_std = checkpoint_normalisation(name_or_path, image_mean, image_std, **kwargs)
        config = VideoClipConfig(
            text_config=clip.config.text_config.to_dict(),
            vision_config=clip.config.vision_config.to_dict(),
            projection_dim=clip.config.projection_dim,
            logit_scale_init_value=float(clip.logit_scale.detach()),
            temporal_mode=temporal_mode,
            num_frames=num_frames,
            vclip_edge=vclip_edge,
            scoring_head=scoring_head,
            frame_pooling=frame_pooling,
            view_pooling=view_pooling,
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


def checkpoint_normalisation(name_or_path, image_mean=None, image_std=None, **kwargs) -> tuple:
    """(image_mean, image_std): the given ones, else those of the checkpoint's `preprocessor_config.json` (None
    where it has none); `kwargs` may hold Hub arguments (`revision`, `token`, ...)."""
    if image_mean is None or image_std is None:
        saved_mean, saved_std = _read_clip_normalisation(
            name_or_path, **{k: kwargs[k] for k in HUB_ARGUMENTS if k in kwargs})
        image_mean = image_mean if image_mean is not None else saved_mean
        image_std = image_std if image_std is not None else saved_std
    return image_mean, image_std


def _read_clip_normalisation(name_or_path, **hub_kwargs) -> tuple[list[float] | None, list[float] | None]:
    """`image_mean`/`image_std` from a CLIP checkpoint's `preprocessor_config.json` (`hub_kwargs` as
    `resolve_file`: revision, token, ...), or (None, None) where it has none."""
    import json

    if not name_or_path:  # a CLIPModel built in memory
        return None, None
    path = resolve_file(name_or_path, "preprocessor_config.json", **hub_kwargs)
    if path is None:
        return None, None
    try:
        with open(path) as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); fix or delete the file.") from None
    return data.get("image_mean"), data.get("image_std")


def logit_scale_from_temperature(temperature: float) -> float:
    """log(1 / temperature), the stored form of a fixed logit scale (ViCLIP: 1/100)."""
    return math.log(1.0 / temperature)


__all__ = [
    "LOGIT_SCALE_MAX",
    "combine_view_logits",
    "VIDEO_CLIP_SCORING_HEADS",
    "VideoClipCosineHead",
    "VideoClipLayout",
    "VideoClipModel",
    "VideoClipOutput",
    "VideoClipPreTrainedModel",
    "logit_scale_factor",
    "pad_descriptor_rows",
    "scaled_cosine_logits",
    "template_ensemble",
]
