"""`st_adapter`: ST-Adapter (Pan et al., NeurIPS 2022) on the vision tower; CLIP itself stays frozen.

Each adapted vision block gets, before its attention, `x_patches + W_up DWConv3D(W_down x_patches)` on the (T, H, W)
patch grid, class tokens unchanged (`models/video_clip/st_adapter.py`). Defaults, as the paper and the authors'
release (github.com/linziyi96/st-adapter, `models_adapter.py` and `scripts/`):

- bottleneck width r = D / 2 (384 for ViT-B/16's 768 in every released configuration, "12x384" and "24x384");
- depthwise kernel (3, 1, 1) over (T, H, W), "same" padding, with a bias;
- one adapter before the attention of every block (the paper's placement; `--st_adapter_position mlp` / `both` give
  the release's "12x384" Kinetics-400 / "24x384" Something-Something-v2 placements);
- no activation in the bottleneck; the convolution (weights and bias) and the linear biases start at zero, so
  training starts from CLIP exactly.

Only the adapters train (`trains_model_weights = False`: Open-VCLIP's interpolation with the zero-shot weights is
refused; snapshot averaging such as Open-MeDe's GWA averages the adapters, as Open-MeDe Table 4 does). They are part of the exported model (`config.adapter` of type `st_adapter`, the
weights in `model.safetensors`, the code in the shipped `st_adapter.py`), so `AutoModel` /
`pipeline(..., trust_remote_code=True)` load them without the package.
"""

from __future__ import annotations

from .base import register_adaptation
from .built_in import BuiltInAdapterAdaptation

ST_ADAPTER_KERNEL_SIZE = (3, 1, 1)


def st_adapter_spec(model, args) -> dict:
    """The `config.adapter` dict of `--adaptation st_adapter` for `model` (a `VideoClipModel`)."""
    width = model.config.vision_config.hidden_size
    dim = getattr(args, "st_adapter_dim", None) or max(1, width // 2)
    kernel = getattr(args, "st_adapter_kernel_size", None) or ST_ADAPTER_KERNEL_SIZE
    if isinstance(kernel, str):
        try:
            kernel = [int(k) for k in kernel.replace("x", ",").split(",")]
        except ValueError:
            raise ValueError(f"--st_adapter_kernel_size {kernel!r}: give three odd sizes T,H,W (e.g. 3,1,1).") from None
    return {"type": "st_adapter", "dim": int(dim), "kernel_size": list(kernel),
            "position": getattr(args, "st_adapter_position", None) or "attention",
            "start_layer": getattr(args, "st_adapter_start_layer", None) or 1,
            "end_layer": getattr(args, "st_adapter_end_layer", None)}


@register_adaptation("st_adapter")
class StAdapterAdaptation(BuiltInAdapterAdaptation):
    name = "st_adapter"
    what = "ST-Adapter weights"

    def spec(self, model, args) -> dict:
        return st_adapter_spec(model, args)

    def is_adapter_parameter(self, name: str) -> bool:
        return ".st_adapter_" in name


__all__ = ["ST_ADAPTER_KERNEL_SIZE", "StAdapterAdaptation", "st_adapter_spec"]
