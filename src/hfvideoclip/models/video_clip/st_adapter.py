"""ST-Adapter (Pan et al., NeurIPS 2022, "ST-Adapter: Parameter-Efficient Image-to-Video Transfer Learning") as part
of a `VideoClipModel`: a bottleneck on the vision tower's patch tokens placed before a block's attention (and/or its
MLP), with a depthwise 3D convolution over the (T, H, W) patch grid in the middle:

    x_patches <- x_patches + W_up DWConv3D(W_down x_patches)        (class tokens unchanged)

`W_down` (D -> r) and `W_up` (r -> D) are linear layers with biases, `DWConv3D` is `Conv3d(r, r, kernel,
groups=r, padding=kernel // 2)` with a bias. As the authors' release, there is no activation between them and the
convolution (weights and bias) and both linear biases start at zero, so the adapted model equals CLIP exactly at
initialisation while `W_down` and `W_up` start random (PyTorch's default `nn.Linear` initialisation).

A `VideoClipModel` whose `config.adapter` is `{"type": "st_adapter", "dim", "kernel_size", "position",
"start_layer", "end_layer"}` builds them itself (`modeling_video_clip.add_adapters`), under
`vision_model.encoder.layers.{i}.st_adapter_attention.*` (before the attention) and
`vision_model.encoder.layers.{i}.st_adapter_mlp.*` (before the MLP). The patch grid comes from the block's
`VideoClipLayout`, so frame-ordered (`mean`, `vclip`) and space-major (`viclip`) sequences are both handled.

Self-contained (imports `torch` only): it ships with saved models for `trust_remote_code`.
"""

from __future__ import annotations

import torch
from torch import nn

ST_ADAPTER_POSITIONS = ("attention", "mlp", "both")
"""`config.adapter["position"]`: before each adapted block's attention (the paper), before its MLP, or both."""
ST_ADAPTER_MODULES = {"attention": ("st_adapter_attention",), "mlp": ("st_adapter_mlp",),
                      "both": ("st_adapter_attention", "st_adapter_mlp")}


class StAdapter(nn.Module):
    """One ST-Adapter: `(rows, length, D)` hidden states in a `VideoClipLayout` -> the same, patch tokens adapted.

    Args:
        hidden_size: D, the vision tower's width.
        dim: r, the bottleneck width (the number of depthwise channels).
        kernel_size: the depthwise Conv3d kernel over (T, H, W); odd sizes ("same" padding, kernel // 2).
    """

    def __init__(self, hidden_size: int, dim: int, kernel_size=(3, 1, 1)):
        super().__init__()
        kernel_size = tuple(int(k) for k in kernel_size)
        if len(kernel_size) != 3 or any(k < 1 or k % 2 == 0 for k in kernel_size):
            raise ValueError(f"StAdapter: kernel_size must be three odd positive sizes (T, H, W), got {kernel_size}.")
        self.down = nn.Linear(hidden_size, dim)
        self.conv = nn.Conv3d(dim, dim, kernel_size, padding=tuple(k // 2 for k in kernel_size), groups=dim)
        self.up = nn.Linear(dim, hidden_size)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.bias)

    def delta(self, hidden_states: torch.Tensor, layout) -> torch.Tensor:
        """`W_up DWConv3D(W_down x)` at the patch tokens, zero at the class tokens; in the adapter's dtype."""
        if layout is None:
            raise ValueError("The ST-Adapter needs the clip layout: call the vision block as "
                             "layer(hidden_states, layout=layout) (VideoClipVisionTransformer does).")
        grid = layout.patch_grid(hidden_states.to(self.down.weight.dtype))  # (B, T, H, W, D)
        z = self.down(grid).permute(0, 4, 1, 2, 3)  # (B, r, T, H, W)
        z = self.conv(z).permute(0, 2, 3, 4, 1)  # (B, T, H, W, r)
        return layout.tokens_from_grid(self.up(z))

    def forward(self, hidden_states: torch.Tensor, layout=None) -> torch.Tensor:
        return hidden_states + self.delta(hidden_states, layout).to(hidden_states.dtype)


def st_adapt(layer: nn.Module, name: str, hidden_states: torch.Tensor, layout=None) -> torch.Tensor:
    """`hidden_states` through the layer's ST-Adapter `name` (`st_adapter_attention` / `st_adapter_mlp`), or as they
    are when the layer has none."""
    adapter = layer._modules.get(name)
    return hidden_states if adapter is None else adapter(hidden_states, layout)


def st_adapter_layer_indices(spec: dict, num_layers: int) -> list[int]:
    """0-based indices of the vision blocks `spec` (a `config.adapter` dict of type `st_adapter`) adapts."""
    end = num_layers if spec["end_layer"] is None else spec["end_layer"]
    if not 1 <= spec["start_layer"] <= end <= num_layers:
        raise ValueError(f"config.json adapter layers {spec['start_layer']}..{end} (start_layer/end_layer, 1-based) "
                         f"do not fit the vision tower's {num_layers} layers; fix `adapter` in config.json.")
    return list(range(spec["start_layer"] - 1, end))


def add_st_adapters(vision_layers, spec: dict) -> None:
    """Build the ST-Adapters `spec` describes into the vision blocks `vision_layers`, in place (fresh initialisation;
    float32 next to float16/bfloat16 blocks)."""
    if any(name in layer._modules for layer in vision_layers for name in ST_ADAPTER_MODULES["both"]):
        raise ValueError("This VideoClipModel already has ST-Adapters (config.adapter); add them once.")
    for index in st_adapter_layer_indices(spec, len(vision_layers)):
        layer = vision_layers[index]
        weight = layer.layer_norm1.weight
        dtype = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
        for name in ST_ADAPTER_MODULES[spec["position"]]:
            adapter = StAdapter(weight.shape[0], spec["dim"], spec["kernel_size"])
            layer.add_module(name, adapter.to(device=weight.device, dtype=dtype))


def remove_st_adapters(vision_layers) -> None:
    for layer in vision_layers:
        for name in ST_ADAPTER_MODULES["both"]:
            layer._modules.pop(name, None)


__all__ = ["ST_ADAPTER_MODULES", "ST_ADAPTER_POSITIONS", "StAdapter", "add_st_adapters", "remove_st_adapters",
           "st_adapt", "st_adapter_layer_indices"]
