"""Numerics shared by the scoring heads: full precision for half inputs, autocast off, the logit scale.

Pure torch (no `hfvideoclip` import): it ships next to `modeling_video_clip.py` for `trust_remote_code`.
"""

from __future__ import annotations

import contextlib
import math

import torch


def full_precision(x: torch.Tensor) -> torch.Tensor:
    """float32 for float16/bfloat16 tensors (a mean of unit vectors and logits at scale 100 need more mantissa than
    bfloat16's 8 bits); other dtypes unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def autocast_off(device: torch.device):
    """Disable autocast (which would run the matmuls in half precision again) for the scoring maths."""
    if device.type in ("cpu", "cuda", "xpu", "mps") and torch.is_autocast_enabled(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def logit_scale_factor(logit_scale: torch.Tensor | float, dtype: torch.dtype = torch.float32
                       ) -> torch.Tensor | float:
    """`exp(logit_scale)`: a tensor (differentiable) for a tensor `logit_scale`, else a float. `logit_scale` is the
    *log* of the scale, as `VideoClipModel.logit_scale` / `CLIPModel.logit_scale`.

    No clamp inside the graph: a clamp at 100 there gives the scale a zero gradient at OpenAI CLIP's own value
    (ln 100). As CLIP and open_clip, training bounds the parameter after each optimizer step instead
    (`VideoClipModel.clamp_logit_scale_`)."""
    if isinstance(logit_scale, torch.Tensor):
        return logit_scale.to(dtype).exp()
    return math.exp(float(logit_scale))


__all__ = ["autocast_off", "full_precision", "logit_scale_factor"]
