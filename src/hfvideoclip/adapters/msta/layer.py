"""MSTA layers: the bottleneck adapter (Eq. 11-13, Algorithms 1-2 of the MSTA paper) and the block wrappers that add
it in parallel to a whole transformer block (Eq. 8/10, MMA-style):

    out = block(x) + lambda * A(block.layer_norm1(x))

Vision: `A_v(x) = W_up_s z + W_up_t z`, `z = dropout(relu(W_shared relu(W_down_v x)))`, where `W_up_t` is a grouped
Conv3d over the (T, H, W) patch grid and class tokens get the spatial (linear) up projection only.
Text: `A_t(w) = W_up_t dropout(relu(W_shared relu(W_down_t w)))`.
"""

from __future__ import annotations

import torch
from torch import nn

# The adapter modules ship with saved models (`bottleneck_adapters.py`, for `trust_remote_code`); the tuner's block
# wrappers below compute the same branch with them.
from ...models.video_clip.bottleneck_adapters import (  # noqa: F401  (public names of this module)
    MstaAdapter,
    MstaProjection,
    _GradientScale,
    _init_weights,
    adapter_delta,
    add_delta,
)
from ...models.video_clip.modeling_video_clip import VideoClipLayout


class _MstaBlock(nn.Module):
    """Wraps a transformer block: `base_layer(x, ...) + scale * adapter(base_layer.layer_norm1(x))`.

    The shared projection is referenced, not registered (it is owned once by the `MstaModel`), so it appears once
    in `state_dict` / `named_parameters`."""

    def __init__(self, base_layer: nn.Module, adapter: MstaAdapter, scale: float, shared: nn.Module | None = None,
                 gradient_scaling: bool = True):
        super().__init__()
        self.base_layer = base_layer
        self.adapter = adapter
        self.scale = float(scale)
        self.gradient_scaling = gradient_scaling
        self.adapter_enabled = True
        self._shared = (shared,)  # a tuple: not a registered submodule

    @property
    def shared(self) -> nn.Module | None:
        return self._shared[0]

    def extra_repr(self) -> str:
        return f"scale={self.scale}, shared_projection={self.shared is not None}, enabled={self.adapter_enabled}"

    def _delta(self, hidden_states: torch.Tensor, layout: VideoClipLayout | None) -> torch.Tensor:
        return adapter_delta(self.adapter, self.base_layer.layer_norm1, hidden_states, self.scale, layout,
                             self.shared, self.gradient_scaling)

    def _combine(self, output, delta: torch.Tensor):
        return add_delta(output, delta)


class MstaVisionBlock(_MstaBlock):
    """Wraps a `VideoClipEncoderLayer`; called as `block(hidden_states, layout=layout)`, hidden states
    `(B * T, 1 + N, D)` (frame order) or `(B, 1 + N * T, D)` (space-major)."""

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        output = self.base_layer(hidden_states, *args, **kwargs)
        if not self.adapter_enabled:
            return output
        layout = kwargs.get("layout", args[0] if args else None)
        return self._combine(output, self._delta(hidden_states, layout))


class MstaTextBlock(_MstaBlock):
    """Wraps a transformers `CLIPEncoderLayer`; every argument (attention masks, ...) goes to it unchanged. Hidden
    states `(batch, length, D)`.

    Known limitation: `text_model(..., output_hidden_states=True)` records each layer's output with a forward hook
    on the `CLIPEncoderLayer` (here `base_layer`), i.e. without the adapter delta; `last_hidden_state` and
    `pooler_output` are correct."""

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs):
        output = self.base_layer(hidden_states, *args, **kwargs)
        if not self.adapter_enabled:
            return output
        return self._combine(output, self._delta(hidden_states, None))


def adapter_parameter_count(hidden_size: int, dim: int, temporal: bool, own_projection: bool) -> int:
    """Parameters of one `MstaAdapter` (see `MstaModel.expected_trainable_parameters`)."""
    count = (hidden_size * dim + dim) + (dim * hidden_size + hidden_size)
    if temporal:
        count += hidden_size * (dim // dim) * 3 + hidden_size  # weight (D, r / groups = 1, 3, 1, 1) + bias
    if own_projection:
        count += dim * dim + dim
    return count


__all__ = ["MstaAdapter", "MstaProjection", "MstaTextBlock", "MstaVisionBlock", "adapter_parameter_count"]
