"""`MstaModel`: MSTA adapters injected into a `VideoClipModel` (peft-style tuner model).

`get_msta_model(model, config)` freezes the base model, replaces the chosen `encoder.layers[i]` of both towers in
place by `MstaVisionBlock` / `MstaTextBlock` wrappers and returns an `MstaModel` that forwards every other attribute
(`get_video_features`, `get_class_embeddings`, `config`, `logit_scale`, ...) to the base model.

The shared projections are owned here, once, in `msta_shared` (a `ModuleDict` keyed by the 0-based block index);
the two wrappers of block i only reference `msta_shared[str(i)]`. Keys of `state_dict` while wrapped:
`base_model.vision_model.encoder.layers.{i}.base_layer.*` (the frozen block), `...layers.{i}.adapter.*` and
`msta_shared.{i}.proj.*`; `unload()` restores the original names. `to_video_clip_model()` gives the
`VideoClipModel` with the adapters built in (`config.adapter`, the form an export saves: it loads anywhere by
`AutoModel` with `trust_remote_code`) and `from_video_clip_model(model)` wraps such a model again.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os

import torch
from torch import nn

from ...models.video_clip.modeling_video_clip import add_adapters, remove_adapters
from .config import CONFIG_NAME, WEIGHTS_NAME, MstaConfig
from .layer import (
    MstaAdapter,
    MstaProjection,
    MstaTextBlock,
    MstaVisionBlock,
    _MstaBlock,
    adapter_parameter_count,
)


def _tower_layers(model: nn.Module) -> tuple[nn.ModuleList, nn.ModuleList]:
    """(vision `encoder.layers`, text `encoder.layers`) of a `VideoClipModel`."""
    vision = getattr(getattr(getattr(model, "vision_model", None), "encoder", None), "layers", None)
    text_model = getattr(model, "text_model", None)
    text_encoder = getattr(text_model, "encoder", None)
    if text_encoder is None:  # transformers releases where CLIPTextModel wraps a CLIPTextTransformer
        text_encoder = getattr(getattr(text_model, "text_model", None), "encoder", None)
    text = getattr(text_encoder, "layers", None)
    if not isinstance(vision, nn.ModuleList) or not isinstance(text, nn.ModuleList):
        raise TypeError(f"MSTA adapts a VideoClipModel (vision_model.encoder.layers and text_model.encoder.layers); "
                        f"got {type(model).__name__}.")
    return vision, text


def _adapter_placement(block: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype for a new adapter next to `block`: float32 when the block is float16/bfloat16."""
    weight = block.layer_norm1.weight
    dtype = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
    return weight.device, dtype


class MstaModel(nn.Module):
    """A `VideoClipModel` with MSTA adapters; only the adapters train.

    Args:
        model: the base `VideoClipModel`, modified in place (blocks wrapped, parameters frozen).
        config: the `MstaConfig`.
    """

    def __init__(self, model: nn.Module, config: MstaConfig):
        super().__init__()
        vision_layers, text_layers = _tower_layers(model)
        if any(isinstance(module, _MstaBlock) for module in model.modules()):
            raise ValueError("This model already has MSTA adapters; call unload() on its MstaModel first.")
        if getattr(model.config, "adapter", None):
            raise ValueError("This VideoClipModel has its adapters built in (config.adapter); wrap it with "
                             "MstaModel.from_video_clip_model(model) instead.")
        config.check_model(model.config)
        if config.base_model_name_or_path is None:
            name = getattr(model, "name_or_path", None)
            config = dataclasses.replace(config, base_model_name_or_path=str(name) if name else None)
        self.base_model = model
        self.msta_config = config
        self.msta_shared = nn.ModuleDict()
        self._requires_grad = [(param, param.requires_grad) for param in model.parameters()]
        model.requires_grad_(False)

        for index in config.shared_indices(len(vision_layers), len(text_layers)):
            device, dtype = _adapter_placement(vision_layers[index])
            self.msta_shared[str(index)] = MstaProjection(config.dim).to(device=device, dtype=dtype)
        towers = []
        if config.adapts_vision:
            towers.append(("vision", vision_layers, MstaVisionBlock, config.temporal))
        if config.adapts_text:
            towers.append(("text", text_layers, MstaTextBlock, False))
        for tower, layers, block_class, temporal in towers:
            for index in config.layer_indices(len(layers), tower):
                shared = self.msta_shared[str(index)] if str(index) in self.msta_shared else None
                base_layer = layers[index]
                device, dtype = _adapter_placement(base_layer)
                adapter = MstaAdapter(base_layer.layer_norm1.normalized_shape[0], config.dim, config.dropout,
                                      temporal=temporal, own_projection=config.mid_projection and shared is None)
                layers[index] = block_class(base_layer, adapter.to(device=device, dtype=dtype), config.scale,
                                            shared=shared, gradient_scaling=config.gradient_scaling)

    # ------------------------------------------------------------------ forwarding
    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "base_model":
                raise
            return getattr(self.base_model, name)

    def forward(self, *args, **kwargs):
        return self.base_model(*args, **kwargs)

    # ------------------------------------------------------------------ adapters
    def _blocks(self) -> list[_MstaBlock]:
        return [module for module in self.base_model.modules() if isinstance(module, _MstaBlock)]

    def _adapter_parameter_names(self) -> list[str]:
        ids = {id(param) for block in self._blocks() for param in block.adapter.parameters()}
        ids |= {id(param) for param in self.msta_shared.parameters()}
        return [name for name, param in self.named_parameters() if id(param) in ids]

    def adapter_state_dict(self) -> dict[str, torch.Tensor]:
        """The adapter tensors only, keyed as in `self.state_dict()`."""
        names = set(self._adapter_parameter_names())
        return {name: tensor for name, tensor in self.state_dict().items() if name in names}

    def load_adapter_state_dict(self, state_dict: dict[str, torch.Tensor], source: str = "the state dict") -> None:
        """Copy adapter tensors in; keys and shapes must match exactly (a `ValueError` naming `source` if not)."""
        own = self.adapter_state_dict()
        missing, unexpected = sorted(set(own) - set(state_dict)), sorted(set(state_dict) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"{source} does not match this MSTA model: missing {missing[:5]}{' ...' if len(missing) > 5 else ''}"
                f" ({len(missing)} in all), unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''} "
                f"({len(unexpected)} in all). Load it with the {CONFIG_NAME} saved beside it, on the same kind of "
                "base model.")
        for name, tensor in own.items():
            if tuple(state_dict[name].shape) != tuple(tensor.shape):
                raise ValueError(f"{source}: tensor {name!r} has shape {tuple(state_dict[name].shape)}, this MSTA "
                                 f"model expects {tuple(tensor.shape)} (check dim / temporal in {CONFIG_NAME} and "
                                 "the base model's widths).")
        with torch.no_grad():
            for name, tensor in own.items():
                tensor.copy_(state_dict[name])

    def set_adapter_enabled(self, enabled: bool) -> None:
        for block in self._blocks():
            block.adapter_enabled = enabled

    @contextlib.contextmanager
    def disable_adapter(self):
        """Context manager: inside it the model computes the base model's outputs exactly."""
        blocks = self._blocks()
        previous = [block.adapter_enabled for block in blocks]
        for block in blocks:
            block.adapter_enabled = False
        try:
            yield self
        finally:
            for block, enabled in zip(blocks, previous):
                block.adapter_enabled = enabled

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write `adapter_config.json` and `adapter_model.safetensors` (adapter tensors only) to `save_directory`."""
        from safetensors.torch import save_file

        self.msta_config.save_pretrained(save_directory)
        tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in self.adapter_state_dict().items()}
        save_file(tensors, os.path.join(save_directory, WEIGHTS_NAME), metadata={"format": "pt", "tuner": "msta"})

    @classmethod
    def from_pretrained(cls, base_model: nn.Module, directory: str | os.PathLike,
                        is_trainable: bool = False) -> MstaModel:
        """Add the adapter saved in `directory` to `base_model` (modified in place). As peft, the adapter is frozen
        and the model in eval mode unless `is_trainable=True`."""
        from safetensors.torch import load_file

        config = MstaConfig.from_pretrained(directory)
        weights = os.path.join(directory, WEIGHTS_NAME)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"No {WEIGHTS_NAME} in {str(directory)!r} ({weights} is missing); an MSTA "
                                    f"adapter directory holds {CONFIG_NAME} and {WEIGHTS_NAME} "
                                    "(MstaModel.save_pretrained).")
        try:
            model = cls(base_model, config)
        except ValueError as error:
            raise ValueError(f"The MSTA adapter in {str(directory)!r} does not fit this base model: {error}") from error
        try:
            model.load_adapter_state_dict(load_file(weights), source=weights)
        except Exception:
            model.unload()
            raise
        if not is_trainable:
            model.requires_grad_(False)
            model.eval()
        return model

    # ------------------------------------------------------------------ built-in adapters
    def to_video_clip_model(self) -> nn.Module:
        """A `VideoClipModel` with these adapters built in (`config.adapter`, weights under the keys of this
        model's `state_dict` without `base_model.` and `.base_layer`), in eval mode; this model is unchanged. It
        loads by `AutoModel.from_pretrained(folder, trust_remote_code=True)` without the package once saved."""

        model = copy.deepcopy(self.base_model)
        for name, module in list(model.named_modules()):  # the deep copy's wrappers give their blocks back
            if isinstance(module, _MstaBlock):
                parent_name, _, child = name.rpartition(".")
                model.get_submodule(parent_name).register_module(child, module.base_layer)
        spec = self.msta_config.to_model_adapter()
        model.config.adapter = spec
        add_adapters(model, spec)
        state = {_base_key(name): tensor for name, tensor in self.adapter_state_dict().items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        wanted = {name for name in model.state_dict() if _is_adapter_key(name)}
        if unexpected or wanted - set(state):
            raise RuntimeError(f"Adapter keys do not match the built-in adapters: unexpected {unexpected[:3]}, "
                               f"missing {sorted(wanted - set(state))[:3]}.")
        return model.requires_grad_(True).eval()

    @classmethod
    def from_video_clip_model(cls, model: nn.Module, is_trainable: bool = False) -> MstaModel:
        """The `MstaModel` of a `VideoClipModel` with built-in adapters (`config.adapter`), modified in place: its
        adapters move into the tuner's wrappers (`disable_adapter`, `unload`, `save_pretrained` then apply). Frozen
        and in eval mode unless `is_trainable`."""

        spec = getattr(model.config, "adapter", None)
        if not spec:
            raise ValueError("This VideoClipModel has no built-in adapters (config.adapter is None); use "
                             "get_msta_model(model, MstaConfig(...)) to add new ones.")
        config = MstaConfig.from_model_adapter(spec)
        state = {name: tensor for name, tensor in model.state_dict().items() if _is_adapter_key(name)}
        remove_adapters(model)
        wrapped = cls(model, config)
        wrapped.load_adapter_state_dict({_tuner_key(name): tensor for name, tensor in state.items()},
                                        source="the model's built-in adapters")
        if not is_trainable:
            wrapped.requires_grad_(False)
            wrapped.eval()
        return wrapped

    # ------------------------------------------------------------------ unload
    def merge_and_unload(self):
        raise NotImplementedError(
            "MSTA adapters cannot be merged into the base weights: each adapter is a parallel branch with ReLUs, "
            "dropout and (vision) a temporal convolution over the clip, not a linear update of a weight matrix. Keep "
            "the adapter (MstaModel.save_pretrained / MstaModel.from_pretrained(base_model, path)), or call "
            "unload() to get the base model back without it.")

    def unload(self) -> nn.Module:
        """Put the original blocks back, drop the adapters and restore each base parameter's `requires_grad`;
        returns the base model (this `MstaModel` is empty afterwards)."""
        for name, module in list(self.base_model.named_modules()):
            if isinstance(module, _MstaBlock):
                parent_name, _, child = name.rpartition(".")
                parent = self.base_model.get_submodule(parent_name) if parent_name else self.base_model
                setattr(parent, child, module.base_layer)
        self.msta_shared = nn.ModuleDict()
        for param, requires_grad in self._requires_grad:
            param.requires_grad_(requires_grad)
        return self.base_model

    # ------------------------------------------------------------------ parameter counts
    def get_nb_trainable_parameters(self) -> tuple[int, int]:
        """(trainable, total) parameter counts, each shared parameter counted once."""
        params = list(self.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)

    def print_trainable_parameters(self) -> None:
        trainable, total = self.get_nb_trainable_parameters()
        print(f"trainable params: {trainable:,d} || all params: {total:,d} || "
              f"trainable%: {100 * trainable / max(total, 1):.4f}")

    @staticmethod
    def expected_trainable_parameters(model_config, msta_config: MstaConfig) -> int:
        """The adapter parameter count by formula, for a `VideoClipConfig` (widths D_v, D_t) and r = `dim`.

        Per adapted vision block: down `D_v r + r`, spatial up `r D_v + D_v`, temporal up (if `temporal`)
        `3 D_v + D_v` (Conv3d weight `(D_v, r / groups = 1, 3, 1, 1)` + bias). Per adapted text block: down
        `D_t r + r`, up `r D_t + D_t`. Middle projection `r r + r`: once per block index adapted by both towers
        when shared (`towers="both"`, `shared_projection=True`), else once per adapted block of each tower (none
        with `mid_projection=False`). ViCLIP-B (768 / 512, 12 + 12 blocks), r = 256, blocks 1-12: 8,712,192.
        """
        msta_config.check_model(model_config)
        vision, text, dim = model_config.vision_config, model_config.text_config, msta_config.dim
        shared = set(msta_config.shared_indices(vision.num_hidden_layers, text.num_hidden_layers))
        total = len(shared) * (dim * dim + dim)
        towers = []
        if msta_config.adapts_vision:
            towers.append((vision, "vision", msta_config.temporal))
        if msta_config.adapts_text:
            towers.append((text, "text", False))
        for tower_config, tower, temporal in towers:
            for index in msta_config.layer_indices(tower_config.num_hidden_layers, tower):
                own = msta_config.mid_projection and index not in shared
                total += adapter_parameter_count(tower_config.hidden_size, dim, temporal, own)
        return total


def _is_adapter_key(name: str) -> bool:
    """A `state_dict` key of a built-in adapter: `...layers.{i}.adapter.*` or `msta_shared.{i}.*`."""
    return ".adapter." in name or name.startswith("msta_shared.")


def _base_key(name: str) -> str:
    """An `MstaModel.adapter_state_dict` key as in the `VideoClipModel` with the adapters built in."""
    return name if name.startswith("msta_shared.") else name.removeprefix("base_model.")


def _tuner_key(name: str) -> str:
    """The inverse of `_base_key`."""
    return name if name.startswith("msta_shared.") else f"base_model.{name}"


def get_msta_model(model: nn.Module, config: MstaConfig | None = None) -> MstaModel:
    """Freeze `model` (a `VideoClipModel`), add MSTA adapters as `config` says (defaults: `MstaConfig()`), return
    the `MstaModel` whose adapters are its only trainable parameters."""
    return MstaModel(model, config if config is not None else MstaConfig())


__all__ = ["MstaModel", "get_msta_model"]
