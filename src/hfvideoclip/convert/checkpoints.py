"""Convert the original checkpoints of Open-VCLIP, FROSTER, ViFi-CLIP, OST and OpenAI CLIP to `VideoClipModel`.

Every file is read with `torch.load(path, map_location="cpu", weights_only=True)` (`load_checkpoint_safely`): no
code from the file runs. A file that stores other Python objects is refused with an explanation of how to re-save
its tensors; OpenAI's TorchScript archives likewise. All five layouts are renamed to the original OpenAI-CLIP key
names first, then one mapping (`openai_clip_to_hf_state_dict`, also used by `convert.viclip`) gives our keys.

Facts taken from the original repositories (file paths in the repository named; no code copied):

OpenAI CLIP (`openai/CLIP` `clip/model.py`; the same file is vendored as `clip/model.py` in ViFi-CLIP,
`slowfast/models/clip/model.py` in Open-VCLIP and FROSTER):
  visual.conv1.weight (W, 3, P, P), no bias           -> vision_model.embeddings.patch_embedding.weight
  visual.class_embedding (W,) / visual.positional_embedding (1 + (S/P)^2, W)
                                                       -> vision_model.embeddings.class_embedding / position_embedding
  visual.ln_pre / visual.ln_post                       -> vision_model.pre_layrnorm / post_layernorm
  visual.proj (W, D), applied as `x @ proj`            -> visual_projection.weight = proj.T
  {visual.,}transformer.resblocks.{i}.attn.in_proj_weight (3W, W) / in_proj_bias (3W,) (nn.MultiheadAttention,
      rows q, k, v)                                    -> *.encoder.layers.{i}.self_attn.{q,k,v}_proj
  *.attn.out_proj / ln_1 / ln_2 / mlp.c_fc / mlp.c_proj -> self_attn.out_proj / layer_norm1 / layer_norm2 / mlp.fc1 / fc2
  token_embedding.weight (V, W) / positional_embedding (L, W) / ln_final
                                                       -> text_model.embeddings.token_embedding / position_embedding /
                                                          text_model.final_layer_norm
  text_projection (W, D), applied as `x @ text_projection` -> text_projection.weight = text_projection.T
  logit_scale (0-dim, log of the scale)                -> logit_scale
  Activation QuickGELU (`x * sigmoid(1.702 x)`); LayerNorm eps 1e-5; heads = width // 64 for both towers
  (`build_model`); the text is pooled at `argmax(token ids)`, the end-of-text token being the largest id (49407 of
  49408), so `eos_token_id = vocab_size - 1` pools at the same position. The state dict of a TorchScript archive
  (`torch.jit.load(...).state_dict()`) also holds `input_resolution`, `context_length`, `vocab_size`, which
  `build_model` deletes; they are ignored here. A ResNet backbone (`visual.layer1...`) has no ViT to map.

Open-VCLIP (`wengzejia1/Open-VCLIP`) and FROSTER (`Visual-AI/FROSTER`), PySlowFast:
  `slowfast/utils/checkpoint.py` `save_checkpoint` writes `{"epoch", "model_state", "optimizer_state",
  "cfg": cfg.dump() (a YAML string), "scaler_state"}` from `model.module.state_dict()` (DDP wrapper omitted);
  `tools/test_net.py` (TEST.CUSTOM_LOAD_FILE) reads `checkpoint["model_state"]` and prefixes `module.` when the
  model is wrapped, so files with and without `module.` exist. The released weight-averaged checkpoints come from
  `weight_average_tool.py`: `torch.save({"model_state": swa_state_dict}, "swa_2_22.pth")`, keys `"model." +`
  OpenAI-CLIP key (it pops `input_resolution`, `context_length`, `vocab_size`).
  `slowfast/models/temporalclip_video_model.py`: `TemporalClipVideo.model` is the `WCLIP` (OpenAI-CLIP keys, text
  `positional_embedding` has max(context_length, 77) rows); `raw_model` (MODEL.KEEP_RAW_MODEL) is the frozen
  teacher CLIP; FROSTER adds `projector_v` / `projector_t` = Sequential(Linear(D, D, bias=False), GELU,
  Linear(D, D, bias=False)) used only in training (distillation: `img_encode + alpha * projector_v(...)` under
  `if self.training`); at test time frames are L2-normalised, scored and averaged over the clip
  (`pred.reshape(bz, clip_len, -1).mean(1)`), which is our `vclip` pooling. `raw_model.*`, `projector_v.*`,
  `projector_t.*` are dropped. MODEL.TEMPORAL_MODELING_TYPE `expand_temporal_view`
  (`slowfast/models/customize_visiontransformer.py` `TimesAttentionBlock`) keeps the block keys (`attn.in_proj_*`,
  `attn.out_proj`, `ln_1`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`): parameter-free. Other types (adapters,
  `message_fc`, experts) and TUNE_HEAD `head` / TEXT_PROMPT `prompt_embed` are refused as unknown keys.
  Data: 8 frames (DATA.NUM_FRAMES), CLIP mean/std (DATA.MEAN/STD), test resize of the short side to 224 and
  centre crop 224 (`configs/Kinetics/TemporalCLIP_vitb16_8x16_STAdapter.yaml`, `slowfast/datasets/kinetics.py`).

ViFi-CLIP (`muzairkhattak/ViFi-CLIP`) and OST (`tomchen-ctj/OST`, built on it):
  `utils/tools.py` `epoch_saving` writes `{"model": model.state_dict(), "optimizer", "lr_scheduler",
  "max_accuracy", "epoch", "config"}`, `config` being the yacs `CfgNode` (`utils/config.py`); `main.py` /
  `main_nce.py` wrap the model in DistributedDataParallel, so keys start with `module.` (`load_checkpoint` deletes
  `module.prompt_learner.token_prefix`). `trainers/vificlip.py` `ViFiCLIP`: `image_encoder` = `clip_model.visual`,
  `text_encoder` = `TextEncoder` (transformer, positional_embedding, ln_final, text_projection: no
  token_embedding, the prompts arrive as embeddings), `logit_scale`, `prompt_learner` (buffers
  `complete_text_embeddings` / `token_prefix` / `token_suffix` computed from class names; `ctx` and `VPT*` only for
  the prompting variants). ViFi-CLIP checkpoints therefore lack the token embedding: it is CLIP's, unchanged, and
  is taken from `base_clip`. OST (`trainers/OST.py`): same `image_encoder` / `text_encoder` / `logit_scale`, its
  `TextEncoder` has `token_embedding`; descriptors are plain tensors, not in the state dict. Frames: mean of
  per-frame projected features (`image_features.mean(dim=1)`), our `mean` mode; OST scores per frame against
  descriptors (our `optimal_descriptor` head). Data (`datasets/build.py`): ImageNet normalisation
  (mean 123.675, 116.28, 103.53; std 58.395, 57.12, 57.375 on 0..255), resize of the short side to
  int(256 / 224 * 224) = 256, centre crop 224; 32 frames in the zero-shot / base-to-novel / few-shot configs
  (16 in `configs/fully_supervised`). The yacs `CfgNode` is plain data (a dict subclass); it is read as an
  `OrderedDict` under the weights-only unpickler without importing yacs (`_YacsConfigStandIn`).

Activation (`hidden_act`): the tensors do not tell QuickGELU from GELU, so no converter guesses it.
  Open-VCLIP, FROSTER, ViFi-CLIP and OST build their towers with OpenAI's `clip/model.py` (vendored, see above),
  whose `ResidualAttentionBlock` MLP is QuickGELU: fixed to "quick_gelu" for them. For `convert openai`:
  - OpenAI's TorchScript archives are QuickGELU; the state dict re-saved from one keeps `input_resolution`,
    `context_length`, `vocab_size`, which open_clip models do not hold (its `CLIP` has no such attributes, and
    `attn_mask` is a non-persistent buffer: `mlfoundations/open_clip` `src/open_clip/model.py` line 360).
  - open_clip (`mlfoundations/open_clip`): `src/open_clip/model.py` lines 183 / 280 pick
    `QuickGELU if quick_gelu else nn.GELU`, `quick_gelu` defaulting to False (line 325); the `*-quickgelu.json`
    model configs set `"quick_gelu": true` and `force_quick_gelu` sets it too (`src/open_clip/factory.py` 450-451).
    Hub folders (`src/open_clip/push_to_hf_hub.py` `save_config_for_hf` / `save_for_hf`) hold the flat state
    dict `open_clip_pytorch_model.bin` / `open_clip_model.safetensors` next to `open_clip_config.json` =
    `{"model_cfg": ..., "preprocess_cfg": ...}`: its `model_cfg.quick_gelu` (absent = False) decides.
    Training checkpoints (`src/open_clip/task/checkpoint.py` `save_checkpoint`) are `{"epoch", "name",
    "state_dict", "optimizer", ...}`, `name` defaulting to `<date>-model_<model name>-lr_...`
    (`src/open_clip_train/main.py` lines 112-126): a `-quickgelu` model name means QuickGELU; any other name
    decides nothing (`--force-quick-gelu` leaves no trace in it).
  Where nothing in the file tells, `hidden_act` must be given.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch.torch_version import TorchVersion

from ..models.video_clip.configuration_video_clip import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    VideoClipConfig,
)
from ..models.video_clip.modeling_video_clip import VideoClipModel

# ------------------------------------------------------------------------------------------------ loading
ACTIVATIONS = ("quick_gelu", "gelu")
ACTIVATION_HINT = ("the MLP activation is not in the tensors and nothing in the checkpoint names it: pass "
                   "--hidden_act quick_gelu (Python: hidden_act='quick_gelu') for OpenAI's original CLIP weights, or "
                   "--hidden_act gelu for an open_clip model trained without QuickGELU (no '-quickgelu' in its "
                   "model name)")
_JIT_METADATA_KEYS = ("input_resolution", "context_length", "vocab_size")
_IGNORED_CLIP_KEYS = (*_JIT_METADATA_KEYS, "attn_mask")


class _YacsConfigStandIn:
    """Read a pickled `yacs.config.CfgNode` (ViFi-CLIP / OST store their config next to the weights) as an
    `OrderedDict`: its items and `__dict__` (frozen flag, renamed keys) are plain data. Nothing from yacs is
    imported and no code from the file runs; the weights-only unpickler only fills the dict."""

    def __new__(cls, *args, **kwargs):
        return OrderedDict()


_STAND_INS = [(_YacsConfigStandIn, "yacs.config.CfgNode")]


def _is_torchscript_archive(path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(name.endswith("/constants.pkl") for name in names) and any("/code/" in name for name in names)


def _unsafe_globals(path) -> list[str]:
    getter = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if getter is None:
        return []
    try:
        return sorted(getter(path))
    except Exception:
        return []


def load_checkpoint_safely(path):
    """`torch.load(path, map_location="cpu", weights_only=True)` with explanations instead of tracebacks.

    `.safetensors` files are read with `safetensors.torch.load_file`. A pickled yacs `CfgNode` (ViFi-CLIP, OST) is
    read as an `OrderedDict` (see `_YacsConfigStandIn`). Raises `FileNotFoundError` for a missing file and
    `ValueError` naming the file for a TorchScript archive, a file that stores other Python objects (loading them
    would execute code from the file) or an unreadable one.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; pass the checkpoint file (a Hugging Face CLIP folder converts with "
                         "`hfvideoclip convert clip`).")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint {path} does not exist; pass the path of the original checkpoint file.")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    if _is_torchscript_archive(path):
        raise ValueError(
            f"{path} is a TorchScript archive (like OpenAI's ViT-B-16.pt from the `clip` package); loading it runs "
            "TorchScript code from the file, which this converter does not do. If you trust the file, save its "
            "tensors once with `torch.save(torch.jit.load(PATH, map_location='cpu').state_dict(), "
            "'clip_state_dict.pt')` and convert that file, or convert the Hugging Face port instead "
            "(`hfvideoclip convert clip openai/clip-vit-base-patch16 OUT`).")
    # (class, "module.Name") entries in the allowlist need torch >= 2.6; older releases refuse the yacs config.
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if TorchVersion(torch.__version__) < "2.6":
        safe_globals = None
    try:
        if safe_globals is not None:
            with safe_globals(_STAND_INS):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        names = _unsafe_globals(path)
        detail = _weights_only_detail(str(error))
        if not names and not detail.startswith(("Unsupported global", "Can only", "Trying to")):
            raise ValueError(f"Could not read {path} as a PyTorch checkpoint ({detail[:300]}); pass the original "
                             ".pth/.pt file.") from None
        found = f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" if names else ""
        raise ValueError(
            f"{path} cannot be loaded safely: besides tensors it stores Python objects{found} that only load by "
            "running arbitrary code from the file (pickle), so `torch.load(weights_only=True)` refuses it. If you "
            "trust the file, re-save its tensors once, in an environment with the original code installed:\n"
            f"    ckpt = torch.load({path!r}, map_location='cpu', weights_only=False)  # runs code from the file\n"
            "    torch.save({'model': ckpt['model']}, 'weights.pth')  # or {'model_state': ckpt['model_state']}\n"
            f"and convert 'weights.pth'. (torch: {detail[:200]})") from None
    except Exception as error:
        raise ValueError(f"Could not read {path} as a PyTorch checkpoint ({type(error).__name__}: "
                         f"{str(error)[:300]}); pass the original .pth/.pt file.") from None


def _weights_only_detail(message: str) -> str:
    """The reason inside torch's weights-only error message (after 'WeightsUnpickler error:')."""
    _, found, rest = message.partition("WeightsUnpickler error:")
    text = rest if found else message
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else message.strip()


# ------------------------------------------------------------------------------------------------ key mapping
_BLOCK_RENAMES = {
    "attn.out_proj.weight": "self_attn.out_proj.weight",
    "attn.out_proj.bias": "self_attn.out_proj.bias",
    "ln_1.weight": "layer_norm1.weight",
    "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight",
    "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight",
    "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight",
    "mlp.c_proj.bias": "mlp.fc2.bias",
}


def _block_indices(state_dict: Mapping, tower: str) -> list[int]:
    pattern = re.compile(re.escape(tower) + r"transformer\.resblocks\.(\d+)\.")
    return sorted({int(m.group(1)) for key in state_dict if (m := pattern.match(key))})


def _num_blocks(state_dict: Mapping, tower: str, name: str) -> int:
    indices = _block_indices(state_dict, tower)
    if not indices:
        raise ValueError(f"no '{tower}transformer.resblocks.N.*' keys: the {name} tower is missing")
    if indices != list(range(len(indices))):
        raise ValueError(f"the {name} tower's blocks are not numbered 0..N-1 (found {indices})")
    return len(indices)


def _few(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def _check_vit(state_dict: Mapping, prefix: str) -> None:
    if f"{prefix}visual.proj" not in state_dict and any(k.startswith(f"{prefix}visual.layer1.") for k in state_dict):
        raise ValueError("this is a ResNet CLIP (visual.layer1...); VideoClipModel has a ViT vision tower, so only "
                         "ViT CLIP checkpoints convert")


def openai_clip_to_hf_state_dict(state_dict: Mapping, prefix: str = "", *, strict: bool = True
                                 ) -> dict[str, torch.Tensor]:
    """OpenAI-CLIP key layout (`visual.*`, `transformer.*`, `token_embedding.weight`, ...; all under `prefix`)
    -> `VideoClipModel` / `CLIPModel` keys (see the module docstring for the table).

    `in_proj_weight`/`in_proj_bias` are split into q, k, v; `visual.proj` and `text_projection` are transposed.
    `logit_scale` is included when present. Keys outside `prefix` are not looked at. Raises `ValueError` listing
    the missing tensors and, with `strict`, the keys under `prefix` that are not CLIP's (`input_resolution`,
    `context_length`, `vocab_size` of TorchScript state dicts and `attn_mask` are ignored).
    """
    _check_vit(state_dict, prefix)
    converted: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []

    def take(key: str) -> torch.Tensor | None:
        full = prefix + key
        if full not in state_dict:
            missing.append(full)
            return None
        used.add(full)
        return state_dict[full]

    def put(ours: str, key: str, transform=None) -> None:
        tensor = take(key)
        if tensor is not None:
            converted[ours] = transform(tensor) if transform is not None else tensor

    for tower, ours, name in (("visual.", "vision_model.encoder.layers.", "vision"),
                              ("", "text_model.encoder.layers.", "text")):
        for i in range(_num_blocks(state_dict, prefix + tower, name)):
            src, dst = f"{tower}transformer.resblocks.{i}.", f"{ours}{i}."
            for suffix in ("weight", "bias"):
                packed = take(f"{src}attn.in_proj_{suffix}")
                if packed is not None:
                    if packed.shape[0] % 3:
                        raise ValueError(f"{prefix}{src}attn.in_proj_{suffix} has {packed.shape[0]} rows, not 3 x width")
                    for part, tensor in zip("qkv", packed.chunk(3, dim=0)):
                        converted[f"{dst}self_attn.{part}_proj.{suffix}"] = tensor
            for old, new in _BLOCK_RENAMES.items():
                put(dst + new, src + old)
    put("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight")
    put("vision_model.embeddings.class_embedding", "visual.class_embedding")
    put("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding")
    for old, new in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        for suffix in ("weight", "bias"):
            put(f"vision_model.{new}.{suffix}", f"visual.{old}.{suffix}")
    put("visual_projection.weight", "visual.proj", lambda t: t.t().contiguous())
    put("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
    put("text_model.embeddings.position_embedding.weight", "positional_embedding")
    for suffix in ("weight", "bias"):
        put(f"text_model.final_layer_norm.{suffix}", f"ln_final.{suffix}")
    put("text_projection.weight", "text_projection", lambda t: t.t().contiguous())
    if prefix + "logit_scale" in state_dict:
        put("logit_scale", "logit_scale", lambda t: t.detach().reshape(()))
    if missing:
        raise ValueError(f"missing CLIP tensors: {_few(missing)}")
    if strict:
        ignored = {prefix + key for key in _IGNORED_CLIP_KEYS}
        unknown = [k for k in state_dict if k.startswith(prefix) and k not in used and k not in ignored]
        if unknown:
            raise ValueError(f"keys that are not part of a CLIP ViT (other architecture or extra modules): "
                             f"{_few(unknown)}")
    return converted


def infer_clip_config(state_dict: Mapping, prefix: str = "", *, vision_heads: int | None = None,
                      text_heads: int | None = None, hidden_act: str | None = None, **config_kwargs
                      ) -> VideoClipConfig:
    """`VideoClipConfig` of an OpenAI-CLIP-layout state dict (keys under `prefix`), from tensor shapes.

    Widths, layers, MLP sizes, patch size, image size (patch * sqrt(positions - 1)), context length, vocabulary,
    projection dim and `logit_scale` come from the shapes; heads default to width // 64 as in OpenAI's
    `build_model` (pass `vision_heads` / `text_heads` for other checkpoints). `eos_token_id = vocab_size - 1`,
    `bos_token_id = vocab_size - 2` (CLIP's tokenizer). `hidden_act` ("quick_gelu" or "gelu", both towers) is not
    in the shapes and must be given: None raises `ValueError` after the shape checks. `config_kwargs` go to
    `VideoClipConfig` (temporal_mode, num_frames, image_mean, ...).
    """
    _check_vit(state_dict, prefix)
    needed = ["visual.conv1.weight", "visual.positional_embedding", "visual.proj", "token_embedding.weight",
              "positional_embedding", "text_projection", "visual.transformer.resblocks.0.mlp.c_fc.weight",
              "transformer.resblocks.0.mlp.c_fc.weight"]
    absent = [prefix + key for key in needed if prefix + key not in state_dict]
    if absent:
        raise ValueError(f"missing CLIP tensors: {_few(absent)}")

    def get(key: str) -> torch.Tensor:
        return state_dict[prefix + key]

    conv = get("visual.conv1.weight")
    if conv.dim() != 4 or conv.shape[-1] != conv.shape[-2]:
        raise ValueError(f"{prefix}visual.conv1.weight has shape {tuple(conv.shape)}, expected (width, 3, P, P)")
    vision_width, patch = conv.shape[0], conv.shape[-1]
    num_positions = get("visual.positional_embedding").shape[0]
    grid = round(math.sqrt(num_positions - 1))
    if grid * grid + 1 != num_positions:
        raise ValueError(f"{prefix}visual.positional_embedding has {num_positions} rows, not 1 + a square grid")
    vocab_size, text_width = get("token_embedding.weight").shape
    projection_dim = get("visual.proj").shape[1]
    if get("text_projection").shape != (text_width, projection_dim):
        raise ValueError(f"{prefix}text_projection has shape {tuple(get('text_projection').shape)}, expected "
                         f"({text_width}, {projection_dim}) to match visual.proj")

    def heads(width: int, given: int | None, name: str) -> int:
        value = given if given is not None else width // 64
        if value < 1 or width % value:
            raise ValueError(f"the {name} width {width} is not divisible into {value} attention heads; pass "
                             f"{name}_heads= (OpenAI CLIP uses width // 64)")
        return value

    vision_config = dict(
        hidden_size=vision_width, intermediate_size=get("visual.transformer.resblocks.0.mlp.c_fc.weight").shape[0],
        image_size=grid * patch, patch_size=patch,
        num_hidden_layers=_num_blocks(state_dict, prefix + "visual.", "vision"),
        num_attention_heads=heads(vision_width, vision_heads, "vision"), hidden_act=hidden_act)
    text_config = dict(
        hidden_size=text_width, intermediate_size=get("transformer.resblocks.0.mlp.c_fc.weight").shape[0],
        vocab_size=vocab_size, max_position_embeddings=get("positional_embedding").shape[0],
        num_hidden_layers=_num_blocks(state_dict, prefix, "text"),
        num_attention_heads=heads(text_width, text_heads, "text"), hidden_act=hidden_act,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1)
    if hidden_act is None:
        raise ValueError(ACTIVATION_HINT)
    if hidden_act not in ACTIVATIONS:
        raise ValueError(f"hidden_act={hidden_act!r} is not one of {', '.join(ACTIVATIONS)} (CLIP's MLP activations)")
    if prefix + "logit_scale" in state_dict:
        config_kwargs.setdefault("logit_scale_init_value", float(get("logit_scale")))
    return VideoClipConfig(vision_config=vision_config, text_config=text_config, projection_dim=projection_dim,
                           **config_kwargs)


# ------------------------------------------------------------------------------------------------ helpers
def _strip(key: str, prefix: str) -> str:
    return key[len(prefix):] if key.startswith(prefix) else key


def _tensors_of(checkpoint, path, entries: tuple[str, ...], what: str) -> dict:
    """The state dict inside `checkpoint`: the first of `entries` present, or the checkpoint itself when it is
    already a flat dict of tensors."""
    if isinstance(checkpoint, Mapping):
        for entry in entries:
            if isinstance(checkpoint.get(entry), Mapping):
                return dict(checkpoint[entry])
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            return dict(checkpoint)
    found = sorted(checkpoint)[:8] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
    raise ValueError(f"{path} is not a {what} checkpoint: expected a dict with "
                     f"{' or '.join(repr(e) for e in entries)} holding the weights, found {found}.")


_OPEN_CLIP_CONFIG = "open_clip_config.json"  # open_clip `src/open_clip/constants.py` HF_CONFIG_NAME


def _quick_gelu_entry(model_cfg: Mapping, where: str) -> tuple[str, str]:
    value = model_cfg.get("quick_gelu", False)  # open_clip's CLIP(quick_gelu=False) when the key is absent
    if not isinstance(value, bool):
        raise ValueError(f"{where}: 'quick_gelu' is {value!r}, expected true or false.")
    return ("quick_gelu" if value else "gelu"), f"{where} says quick_gelu={str(value).lower()}"


def read_clip_activation(path, checkpoint, state_dict: Mapping) -> tuple[str, str] | None:
    """`(hidden_act, evidence)` where an OpenAI-CLIP-layout checkpoint tells its MLP activation, else None.

    Evidence, in order (module docstring, "Activation"): the TorchScript metadata entries of OpenAI's archives
    (QuickGELU); a `quick_gelu` or open_clip `model_cfg` entry next to the weights; an open_clip run `name` with a
    `-quickgelu` model; an `open_clip_config.json` beside the file (its `model_cfg.quick_gelu`, absent = GELU).
    """
    if any(key in state_dict for key in _JIT_METADATA_KEYS):
        return "quick_gelu", ("its input_resolution / context_length / vocab_size entries come from OpenAI's "
                              "TorchScript archive")
    if isinstance(checkpoint, Mapping):
        if isinstance(checkpoint.get("quick_gelu"), bool):
            return _quick_gelu_entry(checkpoint, f"{path} ('quick_gelu' entry)")
        if isinstance(checkpoint.get("model_cfg"), Mapping):
            return _quick_gelu_entry(checkpoint["model_cfg"], f"{path} ('model_cfg' entry)")
        name = checkpoint.get("name")
        found = re.search(r"(?:^|-)model_(\S+?)-lr_", name) if isinstance(name, str) else None
        if found and found.group(1).endswith("-quickgelu"):
            return "quick_gelu", f"its open_clip run name {name!r} names the model {found.group(1)!r}"
    sidecar = os.path.join(os.path.dirname(os.path.abspath(os.fspath(path))), _OPEN_CLIP_CONFIG)
    if os.path.isfile(sidecar):
        try:
            with open(sidecar) as handle:
                config = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{sidecar} is not readable JSON ({error}); fix it or move it away from {path}.") from None
        if isinstance(config, Mapping) and isinstance(config.get("model_cfg"), Mapping):
            return _quick_gelu_entry(config["model_cfg"], f"{sidecar} ('model_cfg')")
    return None


def _official_quick_gelu(config_kwargs: dict, source: str) -> str:
    """"quick_gelu": `source`'s official code builds both towers with OpenAI's `clip/model.py` (QuickGELU MLPs);
    any other `hidden_act` in `config_kwargs` is refused."""
    given = config_kwargs.pop("hidden_act", None)
    if given not in (None, "quick_gelu"):
        raise ValueError(f"hidden_act={given!r} does not apply to {source} checkpoints: their official code builds "
                         "the towers with OpenAI's clip/model.py, whose MLP is QuickGELU; drop hidden_act.")
    return "quick_gelu"


def _build_model(path, state_dict: dict, config: VideoClipConfig) -> VideoClipModel:
    try:
        converted = openai_clip_to_hf_state_dict(state_dict)
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None
    model = VideoClipModel(config)
    try:
        missing, unexpected = model.load_state_dict(converted, strict=False)
    except RuntimeError as error:
        raise ValueError(f"{path}: the tensors do not fit the inferred architecture ({str(error)[:400]}).") from None
    missing = set(missing) - {"vision_model.temporal_embedding", "logit_scale"}
    if missing or unexpected:
        raise ValueError(f"{path}: converted weights do not match VideoClipModel: missing {_few(missing)}; "
                         f"unexpected {_few(unexpected)}.")
    return model.eval()


def _finish(model: VideoClipModel, output_dir, tokenizer, resize_to: int | None) -> VideoClipModel:
    if output_dir is not None:
        model.save_pretrained(output_dir)
        save_processor(model.config, output_dir, tokenizer=tokenizer, resize_to=resize_to)
    return model


def save_processor(config: VideoClipConfig, output_dir, tokenizer=None, resize_to: int | None = None):
    """Save the video preprocessing of `config` (frames, normalisation, resize to `resize_to` (default: the image
    size) then centre crop to the image size) into `output_dir`; with `tokenizer` (a folder or Hub id holding a CLIP
    tokenizer) the complete `VideoClipProcessor`. Returns what was saved."""
    from ..models.video_clip.processing_video_clip import VideoClipProcessor, VideoClipVideoProcessor

    image_size = config.vision_config.image_size
    video_processor = VideoClipVideoProcessor(
        num_frames=config.num_frames, size=resize_to or image_size, crop_size=image_size,
        image_mean=config.image_mean, image_std=config.image_std)
    if tokenizer is None:
        video_processor.save_pretrained(output_dir)
        return video_processor
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tokenizer)
    eos = config.text_config.eos_token_id
    if loaded.eos_token_id != eos or len(loaded) > config.text_config.vocab_size:
        raise ValueError(f"Tokenizer {tokenizer!r} does not fit the converted text tower: its end-of-text id is "
                         f"{loaded.eos_token_id} and it has {len(loaded)} tokens, the model pools at id {eos} and has "
                         f"{config.text_config.vocab_size} (pass the CLIP tokenizer, e.g. "
                         "openai/clip-vit-base-patch16).")
    # Longer texts are cut to the text tower's positions, keeping the end-of-text token last (as ViCLIP's
    # `tokenize(..., context_length=32, truncate=True)`, InternVideo `Data/InternVid/viclip/viclip_text.py` 151-155).
    loaded.model_max_length = min(loaded.model_max_length, config.text_config.max_position_embeddings)
    processor = VideoClipProcessor(loaded, video_processor)
    processor.save_pretrained(output_dir)
    return processor


# ------------------------------------------------------------------------------------------------ converters
_PYSLOWFAST_DROPPED = ("projector_v.", "projector_t.", "raw_model.")


def convert_pyslowfast_checkpoint(path, output_dir=None, temporal_mode: str = "vclip", num_frames: int = 8,
                                  tokenizer=None, vision_heads: int | None = None, text_heads: int | None = None,
                                  **config_kwargs) -> VideoClipModel:
    """Open-VCLIP / FROSTER (PySlowFast) checkpoint -> `VideoClipModel`, saved to `output_dir` when given.

    Reads `{"model_state": {"model.visual...": ...}}` (training checkpoints and the released `swa_*.pth`), with or
    without `module.`; FROSTER's `projector_v.*`, `projector_t.*` and the teacher `raw_model.*` are dropped.
    `temporal_mode="vclip"` (neighbour-frame attention with zero edges, as the official code) reproduces the
    checkpoints; per-frame logits averaged and test views' logits combined (`frame_pooling` / `view_pooling`
    `"logits"`); CLIP normalisation, resize 224 / crop 224. With `tokenizer` a full `VideoClipProcessor` is saved
    next to the model. `config_kwargs` go to `VideoClipConfig` (e.g. `vclip_edge`, `image_mean`).
    """
    checkpoint = load_checkpoint_safely(path)
    raw = _tensors_of(checkpoint, path, ("model_state",), "PySlowFast (Open-VCLIP / FROSTER)")
    state_dict, outside = {}, []
    for key, tensor in raw.items():
        key = _strip(key, "module.")
        if key.startswith(_PYSLOWFAST_DROPPED):
            continue
        if key.startswith("model."):
            state_dict[key[len("model."):]] = tensor
        else:
            outside.append(key)
    if not state_dict:
        raise ValueError(f"{path} has no 'model.*' weights in 'model_state' (found {_few(raw)}): not an Open-VCLIP / "
                         "FROSTER checkpoint.")
    if outside:
        raise ValueError(f"{path}: 'model_state' holds keys outside the CLIP model that VideoClipModel cannot "
                         f"represent: {_few(outside)} (a fine-tuned `head`, a learned `prompt_embed`, ...).")
    config_kwargs.setdefault("image_mean", OPENAI_CLIP_MEAN)
    config_kwargs.setdefault("image_std", OPENAI_CLIP_STD)
    # Both score per-frame logits averaged over frames (`temporalclip_video_model.py`: `pred.reshape(bz, clip_len,
    # -1).mean(1)`) and sum the test views' logits (SlowFast's TestMeter), whatever the temporal mode.
    config_kwargs.setdefault("frame_pooling", "logits")
    config_kwargs.setdefault("view_pooling", "logits")
    hidden_act = _official_quick_gelu(config_kwargs, "Open-VCLIP / FROSTER")  # slowfast/models/clip/model.py
    try:
        config = infer_clip_config(state_dict, vision_heads=vision_heads, text_heads=text_heads,
                                   hidden_act=hidden_act, temporal_mode=temporal_mode, num_frames=num_frames,
                                   **config_kwargs)
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None
    return _finish(_build_model(path, state_dict, config), output_dir, tokenizer, resize_to=None)


_VIFICLIP_DROPPED = ("prompt_learner.complete_text_embeddings", "prompt_learner.token_prefix",
                     "prompt_learner.token_suffix")


def _token_embedding_from(base_clip, path) -> torch.Tensor:
    """CLIP's token embedding (V, W) from a Hugging Face CLIP (folder / Hub id) or an OpenAI-layout file."""
    if os.path.isfile(os.fspath(base_clip)):
        state_dict = load_checkpoint_safely(base_clip)
        state_dict = _tensors_of(state_dict, base_clip, ("state_dict", "model", "model_state"), "CLIP")
        for key, tensor in state_dict.items():
            if key.endswith("token_embedding.weight") and "raw_model." not in key:
                return tensor
        raise ValueError(f"{base_clip} has no token_embedding.weight to complete {path}.")
    from transformers import CLIPModel

    try:
        clip = CLIPModel.from_pretrained(base_clip)
    except (OSError, ValueError) as error:
        raise ValueError(f"Could not load base_clip {base_clip!r} as a Hugging Face CLIPModel ({error}).") from None
    return clip.text_model.embeddings.token_embedding.weight.detach()


def convert_vificlip_checkpoint(path, output_dir=None, temporal_mode: str = "mean", num_frames: int = 32,
                                tokenizer=None, base_clip=None, scoring_head: str = "cosine",
                                vision_heads: int | None = None, text_heads: int | None = None,
                                **config_kwargs) -> VideoClipModel:
    """ViFi-CLIP / OST checkpoint (`{"model": {"module.image_encoder.*", "module.text_encoder.*",
    "module.logit_scale", ...}}`) -> `VideoClipModel`, saved to `output_dir` when given.

    ViFi-CLIP does not store the token embedding (it is CLIP's, frozen): `base_clip` supplies it, the CLIP the model
    was fine-tuned from (a Hugging Face folder / Hub id, e.g. "openai/clip-vit-base-patch16", or an OpenAI-layout
    state dict file). OST stores it. `prompt_learner` buffers (class-name embeddings) are dropped; the prompting
    variants (`VPT*`, `prompt_learner.ctx`) are refused. ImageNet normalisation, resize 256 / crop 224 (scaled with
    the image size), 32 frames (the zero-shot configs). For OST pass `scoring_head="optimal_descriptor"`.
    """
    checkpoint = load_checkpoint_safely(path)
    raw = _tensors_of(checkpoint, path, ("model", "state_dict"), "ViFi-CLIP / OST")
    state_dict, unknown = {}, []
    for key, tensor in raw.items():
        key = _strip(key, "module.")
        if key.startswith(_VIFICLIP_DROPPED):
            continue
        if key.startswith("image_encoder."):
            state_dict["visual." + key[len("image_encoder."):]] = tensor
        elif key.startswith("text_encoder."):
            state_dict[key[len("text_encoder."):]] = tensor
        elif key == "logit_scale":
            state_dict[key] = tensor
        else:
            unknown.append(key)
    if not any(k.startswith("visual.") for k in state_dict):
        raise ValueError(f"{path} has no 'image_encoder.*' weights (found {_few(raw)}): not a ViFi-CLIP / OST "
                         "checkpoint.")
    prompts = [k for k in state_dict if "VPT" in k]
    if unknown or prompts:
        raise ValueError(f"{path}: keys VideoClipModel cannot represent: {_few(unknown + prompts)} (the prompting "
                         "variants of ViFi-CLIP add learned prompt tokens; only fully fine-tuned models convert).")
    if "token_embedding.weight" not in state_dict:
        if base_clip is None:
            raise ValueError(f"{path} has no token embedding (ViFi-CLIP keeps CLIP's, unchanged, outside the saved "
                             "model): pass base_clip=, the CLIP it was fine-tuned from, e.g. "
                             "'openai/clip-vit-base-patch16' for ViT-B/16.")
        embedding = _token_embedding_from(base_clip, path)
        width = state_dict.get("ln_final.weight", torch.empty(0)).shape[0]
        if embedding.dim() != 2 or embedding.shape[1] != width:
            raise ValueError(f"base_clip {base_clip!r} has a token embedding of shape {tuple(embedding.shape)}; "
                             f"{path} has text width {width}: pass the CLIP the checkpoint was fine-tuned from.")
        state_dict["token_embedding.weight"] = embedding
    config_kwargs.setdefault("image_mean", IMAGENET_MEAN)
    config_kwargs.setdefault("image_std", IMAGENET_STD)
    hidden_act = _official_quick_gelu(config_kwargs, "ViFi-CLIP / OST")  # their vendored clip/model.py
    try:
        config = infer_clip_config(state_dict, vision_heads=vision_heads, text_heads=text_heads,
                                   hidden_act=hidden_act, temporal_mode=temporal_mode, num_frames=num_frames,
                                   scoring_head=scoring_head, **config_kwargs)
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None
    resize_to = int(256 / 224 * config.vision_config.image_size)
    return _finish(_build_model(path, state_dict, config), output_dir, tokenizer, resize_to=resize_to)


def convert_openai_clip_checkpoint(path, output_dir=None, temporal_mode: str = "mean", num_frames: int = 8,
                                   tokenizer=None, vision_heads: int | None = None, text_heads: int | None = None,
                                   hidden_act: str | None = None, **config_kwargs) -> VideoClipModel:
    """OpenAI CLIP state dict (`clip` package `model.state_dict()`, or the state dict of its TorchScript archive
    re-saved with `torch.save`) -> `VideoClipModel`, saved to `output_dir` when given.

    Also reads the same layout inside `{"state_dict": ...}` / `{"model": ...}` and with `module.` (open_clip ViT
    checkpoints share it). TorchScript archives are refused with the one-line re-save. CLIP normalisation, resize
    and crop to the image size.

    `hidden_act` ("quick_gelu" / "gelu"; None: read it from the checkpoint, `read_clip_activation`) is never
    guessed: a checkpoint that does not tell it needs it (`ValueError` naming the file and the fix), and a value
    that contradicts what the checkpoint tells is refused.
    """
    checkpoint = load_checkpoint_safely(path)
    raw = _tensors_of(checkpoint, path, ("state_dict", "model", "model_state"), "OpenAI CLIP")
    state_dict = {_strip(key, "module."): tensor for key, tensor in raw.items()}
    if "visual.conv1.weight" not in state_dict and not any(k.startswith("visual.layer1.") for k in state_dict):
        raise ValueError(f"{path} has no 'visual.conv1.weight' (found {_few(state_dict)}): not an OpenAI CLIP "
                         "state dict.")
    if hidden_act is not None and hidden_act not in ACTIVATIONS:
        raise ValueError(f"hidden_act={hidden_act!r} is not one of {', '.join(ACTIVATIONS)} (CLIP's MLP activations).")
    told = read_clip_activation(path, checkpoint, state_dict)
    if told is not None and hidden_act is not None and told[0] != hidden_act:
        raise ValueError(f"{path}: hidden_act={hidden_act!r} contradicts the checkpoint ({told[1]}, so "
                         f"{told[0]!r}); drop --hidden_act / hidden_act or pass {told[0]!r}.")
    config_kwargs.setdefault("image_mean", OPENAI_CLIP_MEAN)
    config_kwargs.setdefault("image_std", OPENAI_CLIP_STD)
    try:
        config = infer_clip_config(state_dict, vision_heads=vision_heads, text_heads=text_heads,
                                   hidden_act=told[0] if told is not None else hidden_act,
                                   temporal_mode=temporal_mode, num_frames=num_frames, **config_kwargs)
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None
    return _finish(_build_model(path, state_dict, config), output_dir, tokenizer, resize_to=None)


__all__ = [
    "convert_openai_clip_checkpoint",
    "convert_pyslowfast_checkpoint",
    "convert_vificlip_checkpoint",
    "infer_clip_config",
    "load_checkpoint_safely",
    "openai_clip_to_hf_state_dict",
    "read_clip_activation",
    "save_processor",
]
