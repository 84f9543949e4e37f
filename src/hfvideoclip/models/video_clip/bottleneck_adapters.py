"""Bottleneck adapters in parallel to whole transformer blocks: MSTA (ETL4Video) and the AdaptFormer-style
`adapter` (MSTA without the shared projection and the temporal branch). MMA-style:

    out = block(x) + scale * A(block.layer_norm1(x))

Vision: `A_v(x) = W_up_s z + W_up_t z`, `z = dropout(relu(W_mid relu(W_down_v x)))`, where `W_up_t` is a grouped
Conv3d over the (T, H, W) patch grid and class tokens get the spatial (linear) up projection only.
Text: `A_t(w) = W_up_t dropout(relu(W_mid relu(W_down_t w)))`. `W_mid` is shared by the two towers' block i when
`shared_projection` (W^ks of MSTA Eq. 12-13), owned by each adapter otherwise, absent without `mid_projection`.

A `VideoClipModel` whose `config.adapter` describes them builds them itself (`modeling_video_clip.add_adapters`), with
the weights in `model.safetensors` under `vision_model.encoder.layers.{i}.adapter.*`,
`text_model.<encoder>.layers.{i}.adapter.*` and `msta_shared.{i}.proj.*`. The package's MSTA tuner
(`hfvideoclip.adapters.msta`) trains the same modules.

Self-contained (imports `torch` only): it ships with saved models for `trust_remote_code`.
"""

from __future__ import annotations

import torch
from torch import nn

ADAPTER_TYPES = ("msta", "adapter")
"""`config.adapter["type"]`: `"msta"` (shared projection, temporal branch) or `"adapter"` (plain bottlenecks)."""
ADAPTER_TOWERS = ("both", "vision", "text")


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

    def forward(self, x: torch.Tensor, layout=None, shared: nn.Module | None = None) -> torch.Tensor:
        """x: `(rows, length, D)` (the normalised block input), `layout` (a `VideoClipLayout`) describing it for the
        temporal up. `shared`: the block's shared projection, used when this adapter has none of its own."""
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


def adapter_delta(adapter: MstaAdapter, layer_norm: nn.Module, hidden_states: torch.Tensor, scale: float,
                  layout=None, shared: nn.Module | None = None, gradient_scaling: bool = True) -> torch.Tensor:
    """`scale * adapter(layer_norm(hidden_states))`, `(rows, length, D)`, in the adapter's dtype. With
    `gradient_scaling` the adapter's parameters get the gradient of the unscaled branch (MMA); the forward value and
    the gradient reaching `hidden_states` are unchanged."""
    dtype = adapter.down.weight.dtype
    scaled = gradient_scaling and scale != 0.0
    x = _GradientScale.apply(hidden_states, scale) if scaled else hidden_states
    delta = scale * adapter(layer_norm(x).to(dtype), layout=layout, shared=shared)
    return _GradientScale.apply(delta, 1.0 / scale) if scaled else delta


def add_delta(output, delta: torch.Tensor):
    """A block's output plus `delta`; tuple outputs (older transformers releases) keep their other entries."""
    if isinstance(output, tuple):
        return (output[0] + delta.to(output[0].dtype),) + tuple(output[1:])
    return output + delta.to(output.dtype)


class AdaptedLayer:
    """Mixin of an encoder block that may hold an adapter (`attach`): its forward adds `adapter_output`. The block
    registers the adapter as `adapter`; the shared projection is referenced, not registered (the model owns it)."""

    def attach(self, adapter: MstaAdapter, scale: float, shared: nn.Module | None = None,
               gradient_scaling: bool = True) -> None:
        self.adapter = adapter
        self.adapter_scale = float(scale)
        self.adapter_gradient_scaling = bool(gradient_scaling)
        self._adapter_shared = (shared,)  # a tuple: not a registered submodule

    def adapter_output(self, output, hidden_states: torch.Tensor, layout=None):
        """`output` plus the adapter's delta for the block input `hidden_states`; `output` itself without one."""
        adapter = self._modules.get("adapter")
        if adapter is None:
            return output
        return add_delta(output, adapter_delta(adapter, self.layer_norm1, hidden_states, self.adapter_scale,
                                               layout, self._adapter_shared[0], self.adapter_gradient_scaling))


def adapter_layer_indices(spec: dict, num_layers: int, tower: str) -> list[int]:
    """0-based indices of the blocks `spec` (a `config.adapter` dict) adapts in a tower of `num_layers` blocks."""
    if spec["towers"] not in ("both", tower):
        return []
    end = num_layers if spec["end_layer"] is None else spec["end_layer"]
    if not 1 <= spec["start_layer"] <= end <= num_layers:
        raise ValueError(f"config.json adapter layers {spec['start_layer']}..{end} (start_layer/end_layer, 1-based) "
                         f"do not fit the {tower} tower's {num_layers} layers; fix `adapter` in config.json.")
    return list(range(spec["start_layer"] - 1, end))


def adapter_shared_indices(spec: dict, vision_layers: int, text_layers: int) -> list[int]:
    """0-based block indices holding a projection shared by both towers (empty unless `shared_projection`)."""
    if not (spec["shared_projection"] and spec["mid_projection"] and spec["towers"] == "both"):
        return []
    vision = set(adapter_layer_indices(spec, vision_layers, "vision"))
    return [i for i in adapter_layer_indices(spec, text_layers, "text") if i in vision]


__all__ = ["ADAPTER_TOWERS", "ADAPTER_TYPES", "AdaptedLayer", "MstaAdapter", "MstaProjection", "adapter_delta",
           "adapter_layer_indices", "adapter_shared_indices", "add_delta"]
