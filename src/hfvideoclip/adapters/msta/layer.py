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

from ...models.video_clip.modeling_video_clip import VideoClipLayout


class _GradientScale(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by `scale` (MMA's `gradient_scale_layer`)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output * ctx.scale, None


def _init_weights(module: nn.Module) -> None:
    """Kaiming-normal weights (fan_out, ReLU gain) and zero biases on every Linear/Conv3d, as MMA's
    `_build_adapter`, on which MSTA is built ("All modules in MSTA are initialized using kaiming initialization").
    Kaiming defines only the weights; zero biases make the branch's output at init a function of the input alone."""
    for child in module.modules():
        if isinstance(child, (nn.Linear, nn.Conv3d)):
            nn.init.kaiming_normal_(child.weight, mode="fan_out", nonlinearity="relu")
            if child.bias is not None:
                nn.init.zeros_(child.bias)


class MstaProjection(nn.Module):
    """The middle projection `relu(W x)`, `(..., r) -> (..., r)`: W^ks of Eq. 12-13 when shared by both towers."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.proj(x))


class MstaAdapter(nn.Module):
    """One tower's adapter for one block: `(..., D) -> (..., D)` through a bottleneck of width r.

    Args:
        hidden_size: D, the tower's width.
        dim: r.
        dropout: dropout on the bottleneck activations (before the up projections).
        temporal: add the temporal up projection (vision): Conv3d(r, D, (3, 1, 1), groups=r, padding "same") over
            the patch grid of `layout`; needs D % r == 0.
        own_projection: build a middle projection owned by this adapter (False: the shared one is passed to
            `forward`, or there is none).
    """

    def __init__(self, hidden_size: int, dim: int, dropout: float = 0.0, temporal: bool = False,
                 own_projection: bool = False):
        super().__init__()
        if temporal and hidden_size % dim:
            raise ValueError(f"MstaAdapter: the temporal Conv3d (groups={dim}) needs the hidden size "
                             f"{hidden_size} to be a multiple of dim={dim}.")
        self.down = nn.Linear(hidden_size, dim)
        self.mid = MstaProjection(dim) if own_projection else None
        self.dropout = nn.Dropout(dropout)
        self.up = nn.Linear(dim, hidden_size)
        self.temporal_up = (nn.Conv3d(dim, hidden_size, kernel_size=(3, 1, 1), padding="same", groups=dim)
                            if temporal else None)
        _init_weights(self)

    def forward(self, x: torch.Tensor, layout: VideoClipLayout | None = None,
                shared: nn.Module | None = None) -> torch.Tensor:
        """x: `(rows, length, D)` (the normalised block input), `layout` describing it for the temporal up.
        `shared`: the block's shared projection, used when this adapter has none of its own."""
        z = torch.relu(self.down(x))
        projection = self.mid if self.mid is not None else shared
        if projection is not None:
            z = projection(z)
        z = self.dropout(z)
        out = self.up(z)
        if self.temporal_up is not None:
            if layout is None:
                raise ValueError("The MSTA temporal up projection needs the clip layout: call the vision block as "
                                 "layer(hidden_states, layout=layout) (VideoClipVisionTransformer does).")
            grid = layout.patch_grid(z).permute(0, 4, 1, 2, 3)  # (B, r, T, H, W)
            temporal = self.temporal_up(grid).permute(0, 2, 3, 4, 1)  # (B, T, H, W, D)
            out = out + layout.tokens_from_grid(temporal)  # zeros at the class tokens: spatial up only there
        return out


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
        dtype = self.adapter.down.weight.dtype
        scaled = self.gradient_scaling and self.scale != 0.0
        x = _GradientScale.apply(hidden_states, self.scale) if scaled else hidden_states
        delta = self.scale * self.adapter(self.base_layer.layer_norm1(x).to(dtype), layout=layout,
                                          shared=self.shared)
        return _GradientScale.apply(delta, 1.0 / self.scale) if scaled else delta

    def _combine(self, output, delta: torch.Tensor):
        if isinstance(output, tuple):  # older transformers releases return (hidden_states, ...)
            return (output[0] + delta.to(output[0].dtype),) + tuple(output[1:])
        return output + delta.to(output.dtype)


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
