"""Deep visual prompt tuning (VPT-deep; Jia et al., ECCV 2022, "Visual Prompt Tuning") as part of a
`VideoClipModel`: every vision block i gets P learnable prompt tokens `E_i` (P x D), written into its input sequence
right after the class token; the block's outputs at those P positions are dropped, and block i + 1 writes its own:

    [x_cls, E_i, x_patches] -> block_i -> [y_cls, (dropped), y_patches]

The prompts carry no position embedding and, in the blocks of CLIP, enter after `pre_layrnorm` (the input of block
0), as VPT's `forward_deep_prompt` in the authors' release (github.com/KMnP/vpt, `src/models/vit_prompt/vit.py`).
Initialisation is the release's: uniform(-v, v) with v = sqrt(6 / (3 * patch_h * patch_w + D)), Xavier-uniform for
a patch-embedding-sized fan-in; dropout on the prompts (`src/configs/config.py`: `MODEL.PROMPT.DROPOUT = 0.0`).

Every row of the sequence gets the same prompts after its first token, so the sequence the block sees is
`(rows, 1 + P + L - 1, D)` in every temporal mode: `mean` / `vclip` (one row per frame, P prompts per frame; `vclip`'s
neighbour-frame attention then also sees the prompts of frames t-1 and t+1, which at a block's input are the same
vectors as frame t's) and `viclip` (one row per video, P prompts after the video's class token). The prompts are
inserted and dropped inside the block, so the `VideoClipLayout` that the vision tower passes around is unchanged.

A `VideoClipModel` whose `config.adapter` is `{"type": "prompts", "num_tokens", "dropout"}` builds them itself
(`modeling_video_clip.add_adapters`), as `vision_model.encoder.layers.{i}.visual_prompts.tokens`.

Self-contained (imports `torch` only): it ships with saved models for `trust_remote_code`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PROMPTS_MODULE = "visual_prompts"
"""Name of a vision block's `VisualPrompts` submodule."""


def vpt_init_bound(patch_size, hidden_size: int) -> float:
    """v of VPT's uniform(-v, v) prompt initialisation: sqrt(6 / (3 * patch_h * patch_w + D))."""
    patch_h, patch_w = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
    return math.sqrt(6.0 / float(3 * patch_h * patch_w + hidden_size))


class VisualPrompts(nn.Module):
    """The P prompt tokens of one vision block: `insert` writes them after each row's first (class) token, `strip`
    drops those positions again.

    Args:
        hidden_size: D, the vision tower's width.
        num_tokens: P, the prompts per sequence.
        dropout: dropout on the prompts (training only), drawn per row.
        patch_size: the vision tower's patch size, for the initialisation range.
    """

    def __init__(self, hidden_size: int, num_tokens: int, dropout: float = 0.0, patch_size=16):
        super().__init__()
        if num_tokens < 1:
            raise ValueError(f"VisualPrompts: num_tokens must be a positive integer, got {num_tokens}.")
        self.num_tokens = int(num_tokens)
        self.tokens = nn.Parameter(torch.empty(self.num_tokens, hidden_size))
        self.dropout = nn.Dropout(dropout)
        self.init_bound = vpt_init_bound(patch_size, hidden_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.tokens.uniform_(-self.init_bound, self.init_bound)

    def insert(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(rows, L, D)` -> `(rows, L + P, D)`: `[x_0, prompts, x_1 ... x_{L-1}]` in every row."""
        rows = hidden_states.shape[0]
        prompts = self.dropout(self.tokens.to(hidden_states.dtype).expand(rows, -1, -1))
        return torch.cat([hidden_states[:, :1], prompts, hidden_states[:, 1:]], dim=1)

    def strip(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(rows, L + P, D)` -> `(rows, L, D)`: the outputs at the prompt positions dropped."""
        return torch.cat([hidden_states[:, :1], hidden_states[:, 1 + self.num_tokens:]], dim=1)

    def extra_repr(self) -> str:
        return f"num_tokens={self.num_tokens}, hidden_size={self.tokens.shape[1]}, dropout={self.dropout.p}"


def insert_prompts(layer: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """`hidden_states` with `layer`'s prompts after the class token, or as they are when the layer has none."""
    prompts = layer._modules.get(PROMPTS_MODULE)
    return hidden_states if prompts is None else prompts.insert(hidden_states)


def strip_prompts(layer: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """Undo `insert_prompts` on the layer's output."""
    prompts = layer._modules.get(PROMPTS_MODULE)
    return hidden_states if prompts is None else prompts.strip(hidden_states)


def add_visual_prompts(vision_layers, spec: dict, patch_size) -> None:
    """Build the prompts `spec` (a `config.adapter` dict of type `prompts`) describes into every vision block of
    `vision_layers`, in place (fresh VPT initialisation; float32 next to float16/bfloat16 blocks)."""
    if any(PROMPTS_MODULE in layer._modules for layer in vision_layers):
        raise ValueError("This VideoClipModel already has visual prompts (config.adapter); add them once.")
    for layer in vision_layers:
        weight = layer.layer_norm1.weight
        dtype = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
        prompts = VisualPrompts(weight.shape[0], spec["num_tokens"], spec["dropout"], patch_size)
        layer.add_module(PROMPTS_MODULE, prompts.to(device=weight.device, dtype=dtype))


def remove_visual_prompts(vision_layers) -> None:
    for layer in vision_layers:
        layer._modules.pop(PROMPTS_MODULE, None)


__all__ = ["PROMPTS_MODULE", "VisualPrompts", "add_visual_prompts", "insert_prompts", "remove_visual_prompts",
           "strip_prompts", "vpt_init_bound"]
