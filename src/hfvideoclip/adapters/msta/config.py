"""`MstaConfig`: the Multi-modal Spatio-Temporal Adapter (MSTA, ETL4Video) as a peft-style tuner configuration.

Defaults follow the MSTA paper (Table 1, base-to-novel: dims 256, lambda 0.005, dropout 0.1, layers 1-12); the
few-shot setting is `dim=128, start_layer=8`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
TUNER_NAME = "msta"
TOWERS = ("both", "vision", "text")


@dataclass
class MstaConfig:
    """Where and how MSTA adapters are added to a `VideoClipModel`.

    Layer indices are 1-based and inclusive, counted in each tower's own blocks (the paper's "layers 1-12"); with
    `end_layer=None` each tower is adapted up to its own last block. The shared projection of index k exists only
    when both towers adapt block k; a tower adapting a block the other one does not gets its own middle projection.
    """

    dim: int = field(default=256, metadata={"help": "Bottleneck width r of every adapter (paper Table 1: 256 for "
                                                    "base-to-novel, 128 for few-shot and zero-shot)."})
    start_layer: int = field(default=1, metadata={"help": "First adapted block, 1-based (k in Eq. 8-10; 1, or 8 "
                                                          "for few-shot)."})
    end_layer: int | None = field(default=None, metadata={"help": "Last adapted block, 1-based and inclusive; None "
                                                                  "= the last block of each tower."})
    scale: float = field(default=0.005, metadata={"help": "lambda of Eq. 8/10: block output = block(x) + lambda * "
                                                          "A(layer_norm1(x)). 0 gives the base model exactly."})
    dropout: float = field(default=0.1, metadata={"help": "Dropout on the bottleneck activations, before the up "
                                                          "projections (Algorithms 1-2)."})
    towers: str = field(default="both", metadata={"help": "'both' (MSTA), 'vision' or 'text' (the paper's 'Only "
                                                          "V-Adapter' / 'Only L-Adapter' ablations)."})
    shared_projection: bool = field(default=True, metadata={
        "help": "One r x r projection (Linear + ReLU) per block index shared by the vision and text adapters (W^ks "
                "of Eq. 12-13). False: each tower gets its own middle projection (the 'w/o Shared Layers' "
                "ablation with the same capacity)."})
    mid_projection: bool = field(default=True, metadata={
        "help": "Whether adapters have the r x r middle projection at all. False (needs shared_projection=False, "
                "and temporal=False for plain AdaptFormer) gives bottleneck adapters: down, ReLU, dropout, up."})
    temporal: bool = field(default=True, metadata={
        "help": "Add the temporal up projection of the vision adapter (Eq. 11): a grouped Conv3d (groups=r, "
                "kernel (3, 1, 1), 'same' padding) over the (T, H, W) patch grid. Needs the vision width to be a "
                "multiple of `dim`."})
    gradient_scaling: bool = field(default=True, metadata={
        "help": "As MMA's code (and the MSTA paper's Sec. 6: 'using gradient scaling'): adapter parameters get the "
                "gradient of the unscaled branch A(.), i.e. 1/lambda times the plain gradient; the forward pass and "
                "the gradient reaching the block input are unchanged."})
    base_model_name_or_path: str | None = field(default=None, metadata={
        "help": "The base model the adapter was trained on (informative; filled from the model when empty)."})

    def __post_init__(self):
        def fail(name: str, message: str):
            raise ValueError(f"MstaConfig.{name}={getattr(self, name)!r}: {message}")

        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim <= 0:
            fail("dim", "the bottleneck width must be a positive integer (e.g. 256 or 128).")
        if isinstance(self.start_layer, bool) or not isinstance(self.start_layer, int) or self.start_layer < 1:
            fail("start_layer", "layers are counted from 1 (the first transformer block); use an integer >= 1.")
        if self.end_layer is not None:
            if isinstance(self.end_layer, bool) or not isinstance(self.end_layer, int):
                fail("end_layer", "use an integer (1-based, inclusive) or None for the last block.")
            if self.end_layer < self.start_layer:
                fail("end_layer", f"must be >= start_layer={self.start_layer} (both 1-based and inclusive).")
        if not isinstance(self.scale, (int, float)) or isinstance(self.scale, bool) or not math.isfinite(self.scale):
            fail("scale", "lambda must be a finite number (paper: 0.005).")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            fail("dropout", "must be a probability in [0, 1).")
        if self.towers not in TOWERS:
            fail("towers", f"use one of {', '.join(repr(t) for t in TOWERS)}.")
        if self.shared_projection and not self.mid_projection:
            fail("mid_projection", "False removes the middle projection, so nothing can be shared: set "
                                   "shared_projection=False as well.")

    # ------------------------------------------------------------------ layers
    @property
    def adapts_vision(self) -> bool:
        return self.towers in ("both", "vision")

    @property
    def adapts_text(self) -> bool:
        return self.towers in ("both", "text")

    def layer_indices(self, num_layers: int, tower: str = "model") -> list[int]:
        """0-based indices of the adapted blocks of a tower with `num_layers` blocks."""
        end = num_layers if self.end_layer is None else self.end_layer
        if self.start_layer > num_layers or end > num_layers:
            raise ValueError(
                f"MstaConfig layers {self.start_layer}..{end} (start_layer/end_layer, 1-based, inclusive) do not fit "
                f"the {tower} tower, which has {num_layers} layers; use 1 <= start_layer <= end_layer <= "
                f"{num_layers} (end_layer=None adapts up to each tower's last block).")
        return list(range(self.start_layer - 1, end))

    def shared_indices(self, vision_layers: int, text_layers: int) -> list[int]:
        """0-based block indices that hold a shared projection: adapted by both towers (empty when unshared)."""
        if not (self.shared_projection and self.towers == "both"):
            return []
        vision = set(self.layer_indices(vision_layers, "vision"))
        return [i for i in self.layer_indices(text_layers, "text") if i in vision]

    def check_model(self, model_config) -> None:
        """Validate against a `VideoClipConfig` (layer ranges, temporal conv groups); raises a `ValueError`."""
        vision, text = model_config.vision_config, model_config.text_config
        if self.adapts_vision:
            self.layer_indices(vision.num_hidden_layers, "vision")
            if self.temporal and vision.hidden_size % self.dim:
                raise ValueError(
                    f"MstaConfig.dim={self.dim} does not divide the vision hidden size {vision.hidden_size}: the "
                    f"temporal up projection is a Conv3d with groups=dim from dim to {vision.hidden_size} channels. "
                    f"Pick a dim that divides {vision.hidden_size} (e.g. "
                    f"{_divisors_near(vision.hidden_size, self.dim)}) or set temporal=False.")
        if self.adapts_text:
            self.layer_indices(text.num_hidden_layers, "text")

    # ------------------------------------------------------------------ serialisation
    def to_model_adapter(self) -> dict:
        """The `VideoClipConfig.adapter` dict of a model with these adapters built in: `type` ("adapter" for plain
        bottlenecks: no middle projection, no temporal branch; "msta" otherwise) and the structural fields."""
        plain = not (self.shared_projection or self.mid_projection or self.temporal)
        data = {name: value for name, value in asdict(self).items() if name != "base_model_name_or_path"}
        return {"type": "adapter" if plain else TUNER_NAME, **data}

    @classmethod
    def from_model_adapter(cls, adapter: dict, source: str = "config.json `adapter`") -> MstaConfig:
        """The `MstaConfig` of a `VideoClipConfig.adapter` dict (`to_model_adapter`)."""
        return cls.from_dict({name: value for name, value in adapter.items() if name != "type"}, source=source)

    def to_dict(self) -> dict:
        return {"tuner": TUNER_NAME, **asdict(self)}

    def save_pretrained(self, save_directory: str | os.PathLike) -> str:
        """Write `adapter_config.json` into `save_directory` (created if needed); returns its path."""
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, CONFIG_NAME)
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")
        return path

    @classmethod
    def from_dict(cls, data: dict, source: str = "the config dict") -> MstaConfig:
        if not isinstance(data, dict):
            raise ValueError(f"{source} must hold a JSON object, got {type(data).__name__}.")
        data = dict(data)
        tuner = data.pop("tuner", TUNER_NAME)
        if tuner != TUNER_NAME:
            raise ValueError(f"{source} has \"tuner\": {tuner!r}; an MSTA adapter needs \"tuner\": \"msta\".")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source} has unknown field(s) {', '.join(unknown)}; MstaConfig fields are "
                             f"{', '.join(sorted(known))}.")
        try:
            return cls(**data)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from error

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> MstaConfig:
        """Read `directory/adapter_config.json`."""
        path = os.path.join(directory, CONFIG_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {CONFIG_NAME} in {str(directory)!r} ({path} is missing): not an MSTA "
                                    "adapter directory (write one with MstaModel.save_pretrained).")
        try:
            with open(path) as handle:
                data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
        return cls.from_dict(data, source=path)


def _divisors_near(width: int, dim: int) -> str:
    divisors = [d for d in range(1, width + 1) if width % d == 0]
    closest = sorted(divisors, key=lambda d: (abs(d - dim), d))[:3]
    return ", ".join(str(d) for d in sorted(closest))


__all__ = ["CONFIG_NAME", "TOWERS", "WEIGHTS_NAME", "MstaConfig"]
