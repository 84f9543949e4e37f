"""Convert an original ViCLIP checkpoint (OpenGVLab/InternVideo, `torch.load(path)["model"]`) to `VideoClipModel`.

Key mapping (original -> ours): the towers are renamed to the OpenAI-CLIP layout (`vision_encoder.` -> `visual.`,
`text_encoder.` -> the root) and go through the shared `convert.checkpoints.openai_clip_to_hf_state_dict`:
  vision_encoder.conv1.weight (W, 3, 1, P, P)          -> vision_model.embeddings.patch_embedding.weight (W, 3, P, P)
  vision_encoder.class_embedding / positional_embedding -> vision_model.embeddings.class_embedding / position_embedding
  vision_encoder.temporal_positional_embedding          -> vision_model.temporal_embedding
  *.transformer.resblocks.{i}.attn.in_proj_weight/bias  -> *.encoder.layers.{i}.self_attn.{q,k,v}_proj (split in 3)
  *.attn.out_proj / ln_1 / ln_2 / mlp.c_fc / mlp.c_proj -> self_attn.out_proj / layer_norm1 / layer_norm2 / mlp.fc1 / fc2
  vision_encoder.ln_pre / ln_post                       -> vision_model.pre_layrnorm / post_layernorm
  vision_encoder.proj (W, D) / text_encoder.text_projection (W, D) -> visual_projection / text_projection (D, W)
  text_encoder.token_embedding / positional_embedding / ln_final -> text_model.embeddings.* / final_layer_norm
  temp (similarity / temp)                              -> logit_scale = log(1 / temp)

Activation: QuickGELU in both towers (`Data/InternVid/viclip/viclip_text.py` line 47, `viclip_vision.py` line 69,
`("gelu", QuickGELU())`), fixed. Text: `ViCLIP.max_txt_l = 32` (`viclip.py` line 30) and `encode_text` calls
`tokenize(text, context_length=32)` with `truncate=True` (`viclip_text.py` lines 124, 151-155): the first 32 tokens
are kept and the last one is replaced by end-of-text. A saved tokenizer therefore gets `model_max_length` = the
text tower's positions; CLIP's tokenizer with `truncation=True` then gives the same ids (`<|startoftext|>`, the
first L - 2 word tokens, `<|endoftext|>`).
"""

from __future__ import annotations

import math

import torch

from ..models.video_clip.configuration_video_clip import IMAGENET_MEAN, IMAGENET_STD, VideoClipConfig
from ..models.video_clip.modeling_video_clip import VideoClipModel
from .checkpoints import (
    infer_clip_config,
    load_checkpoint_safely,
    openai_clip_to_hf_state_dict,
    save_processor,
)

_TEMPORAL_KEY = "vision_encoder.temporal_positional_embedding"


def _openai_layout(state_dict: dict) -> dict[str, torch.Tensor]:
    """ViCLIP keys -> OpenAI-CLIP keys (the 3D patch convolution with one frame of kernel becomes 2D)."""
    layout = {}
    for key, tensor in state_dict.items():
        if key.startswith("vision_encoder.") and key != _TEMPORAL_KEY:
            layout["visual." + key[len("vision_encoder."):]] = tensor
        elif key.startswith("text_encoder."):
            layout[key[len("text_encoder."):]] = tensor
    conv = layout.get("visual.conv1.weight")
    if conv is not None and conv.dim() == 5:
        layout["visual.conv1.weight"] = conv[:, :, 0]
    return layout


def viclip_config_from_state_dict(state_dict: dict, vision_heads: int | None = None, text_heads: int | None = None
                                  ) -> VideoClipConfig:
    """Infer the architecture from tensor shapes. Heads default to width / 64 (vision) and width / 64 (text),
    which holds for ViCLIP-B/16 (768/12, 512/8) and -L/14 (1024/16, 768/12)."""
    temporal = state_dict.get(_TEMPORAL_KEY)
    temperature = float(state_dict["temp"]) if "temp" in state_dict else 0.01
    try:
        return infer_clip_config(
            _openai_layout(state_dict), vision_heads=vision_heads, text_heads=text_heads,
            hidden_act="quick_gelu",  # ViCLIP's towers use QuickGELU (module docstring)
            logit_scale_init_value=math.log(1.0 / temperature), temporal_mode="viclip",
            num_frames=temporal.shape[1] if temporal is not None else 8,  # other lengths are resized at run time
            image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD)
    except ValueError as error:
        raise ValueError(f"Not a ViCLIP checkpoint (expected the `model` entry of the original .pth file): "
                         f"{error}.") from None


def convert_viclip_state_dict(state_dict: dict, config: VideoClipConfig) -> dict[str, torch.Tensor]:
    """Rename and reshape the original tensors into `VideoClipModel` keys."""
    converted = openai_clip_to_hf_state_dict(_openai_layout(state_dict), strict=False)
    temporal = state_dict.get(_TEMPORAL_KEY)
    width = config.vision_config.hidden_size
    converted["vision_model.temporal_embedding"] = (
        temporal if temporal is not None else torch.zeros(1, config.num_frames, width))
    converted["logit_scale"] = torch.tensor(config.logit_scale_init_value)
    return converted


def convert_viclip_checkpoint(checkpoint_path, output_dir=None, tokenizer=None, **config_kwargs) -> VideoClipModel:
    """Load `checkpoint_path` (original .pth, `weights_only=True`), convert, optionally `save_pretrained` with the
    video preprocessing and, with `tokenizer` (a CLIP tokenizer folder / Hub id), the full `VideoClipProcessor`
    whose `model_max_length` is the text tower's positions (32 for ViCLIP), so longer texts are truncated as ViCLIP
    truncates them."""
    checkpoint = load_checkpoint_safely(checkpoint_path)
    state_dict = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict) or "vision_encoder.conv1.weight" not in state_dict:
        raise ValueError(f"{checkpoint_path} has no ViCLIP weights: expected a dict with a 'model' entry holding "
                         "'vision_encoder.*' and 'text_encoder.*' tensors.")
    config = viclip_config_from_state_dict(state_dict, **config_kwargs)
    model = VideoClipModel(config)
    try:
        converted = convert_viclip_state_dict(state_dict, config)
    except ValueError as error:
        raise ValueError(f"{checkpoint_path}: {error}.") from None
    missing, unexpected = model.load_state_dict(converted, strict=False)
    if missing:
        raise ValueError(f"Converted ViCLIP checkpoint {checkpoint_path} lacks {missing}.")
    if output_dir is not None:
        model.save_pretrained(output_dir)
        save_processor(config, output_dir, tokenizer=tokenizer)
    return model
