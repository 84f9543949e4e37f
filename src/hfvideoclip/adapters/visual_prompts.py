"""`prompts`: deep visual prompt tuning (VPT-deep; Jia et al., ECCV 2022) on the vision tower; CLIP itself stays frozen.

Every vision block gets P learnable tokens after the class token of its input sequence; its outputs there are dropped
and the next block writes its own (`models/video_clip/visual_prompts.py`). Defaults and their sources:

- P = 8 prompts per block (`--prompt_tokens`): Vita-CLIP's Kinetics-400 recipe (`train_scripts/k400_train.sh`,
  `--num_global_prompts 8`), whose "global prompts" are VPT-deep prompts on CLIP ViT-B/16 frames with VPT's
  initialisation; VPT's own config defaults to 5 (`MODEL.PROMPT.NUM_TOKENS`) and its paper sweeps 1-200;
- prompt dropout 0.0 (`--prompt_dropout`): VPT's `MODEL.PROMPT.DROPOUT` (github.com/KMnP/vpt, `src/configs/config.py`);
- initialisation uniform(-v, v), v = sqrt(6 / (3 * patch_h * patch_w + D)) (VPT `src/models/vit_prompt/vit.py`):
  0.0625 for ViT-B/16.

Temporal modes: all three (`mean`, `vclip`, `viclip`; see the shipped module). Only the prompts train
(`trains_model_weights = False`: Open-VCLIP's interpolation with the zero-shot weights is refused; snapshot
averaging averages the prompts, as for `st_adapter`; the text tower and `logit_scale` stay frozen, as for `st_adapter` and `adapter`). They are part of the
exported model (`config.adapter` of type `prompts`, the tokens in `model.safetensors`, the code in the shipped
`visual_prompts.py`), so `AutoModel` / `pipeline(..., trust_remote_code=True)` load them without the package.

Not built: Vita-CLIP's per-layer video summary token and frame-conditioned local prompts (see docs/training.md).
"""

from __future__ import annotations

from .base import register_adaptation
from .built_in import BuiltInAdapterAdaptation

DEFAULT_PROMPT_TOKENS = 8
DEFAULT_PROMPT_DROPOUT = 0.0


def prompts_spec(args) -> dict:
    """The `config.adapter` dict of `--adaptation prompts`."""
    tokens = getattr(args, "prompt_tokens", None)
    dropout = getattr(args, "prompt_dropout", None)
    return {"type": "prompts", "num_tokens": DEFAULT_PROMPT_TOKENS if tokens is None else tokens,
            "dropout": DEFAULT_PROMPT_DROPOUT if dropout is None else dropout}


@register_adaptation("prompts")
class PromptsAdaptation(BuiltInAdapterAdaptation):
    name = "prompts"
    what = "prompts"

    def spec(self, model, args) -> dict:
        return prompts_spec(args)

    def is_adapter_parameter(self, name: str) -> bool:
        return ".visual_prompts." in name


__all__ = ["DEFAULT_PROMPT_DROPOUT", "DEFAULT_PROMPT_TOKENS", "PromptsAdaptation",
           "prompts_spec"]
