"""`msta` and `adapter`: bottleneck adapters in parallel to the towers' blocks (`hfvideoclip.adapters.msta`).

- `msta` (MSTA, ETL4Video): vision and text adapters sharing one middle projection per block, plus a temporal 3D
  convolution on the video side.
- `adapter`: the AdaptFormer-style baseline MSTA Tab. 2 and FROSTER Tab. 3 compare against: the same tuner with the
  shared projection and the temporal branch off (down, ReLU, dropout, up; MSTA Tab. 6a "w/o shared layers").

Only the adapters train (`trains_model_weights = False`). They cannot be folded into the weights (ReLUs, a parallel
branch, a convolution over time), so they are part of the exported model: `config.adapter` describes them, their
weights are in `model.safetensors` and their code in the shipped `bottleneck_adapters.py`
(`MstaModel.to_video_clip_model`), so `AutoModel` / `pipeline(..., trust_remote_code=True)` load them without the
package. The adapter alone is also saved in the `msta/` subfolder (`MstaModel.from_pretrained(base, folder/msta)`);
`load_video_clip_model(folder)` gives the `MstaModel` back, also for folders exported before `config.adapter`
(base weights + `msta/`).
"""

from __future__ import annotations

import copy
import os

from .base import Adaptation, register_adaptation

MSTA_SUBFOLDER = "msta"
"""Subfolder of an exported model holding its MSTA / adapter weights (`adapter_config.json`, `adapter_model.safetensors`).
Not the folder itself: transformers reads an `adapter_config.json` at the top of a folder as a peft adapter."""


@register_adaptation("msta")
class MstaAdaptation(Adaptation):
    name = "msta"
    trains_model_weights = False
    shared_projection = True
    mid_projection = True
    temporal = True

    def config(self, args):
        from .msta import MstaConfig

        return MstaConfig(dim=args.msta_dim, start_layer=args.msta_start_layer, end_layer=args.msta_end_layer,
                          scale=args.msta_scale, dropout=args.msta_dropout, towers=args.msta_towers,
                          shared_projection=self.shared_projection, mid_projection=self.mid_projection,
                          temporal=self.temporal)

    def apply(self, model, args):
        from .msta import get_msta_model

        return get_msta_model(model, self.config(args))

    def count_parameters(self, model):
        return model.get_nb_trainable_parameters()

    def export(self, model):
        return copy.deepcopy(model)

    def save(self, exported, output_dir, trained=None):
        """The model with its adapters built in (`config.adapter`) in `output_dir`, the adapter alone in
        `output_dir/msta/`."""
        exported.to_video_clip_model().save_pretrained(output_dir)
        exported.save_pretrained(os.path.join(output_dir, MSTA_SUBFOLDER))


@register_adaptation("adapter")
class AdapterAdaptation(MstaAdaptation):
    """AdaptFormer-style bottleneck adapters (no shared projection, no temporal branch)."""

    name = "adapter"
    shared_projection = False
    mid_projection = False
    temporal = False


def has_adapters(model) -> bool:
    """Whether `model` already holds MSTA / adapter weights: an `MstaModel`, wrapped blocks, or adapters built in
    (`config.adapter`)."""
    from .msta import MstaModel
    from .msta.layer import _MstaBlock

    if isinstance(model, MstaModel) or getattr(getattr(model, "config", None), "adapter", None):
        return True
    return any(isinstance(module, _MstaBlock) for module in model.modules())


def load_saved_adapter(model, folder: str):
    """`model` with the MSTA / adapter weights saved in `folder/msta` (an `MstaModel`, frozen, eval mode), or
    `model` itself when the folder has none or `model` has its adapters already (`has_adapters`: a folder
    exported with `config.adapter` loads them with the model)."""
    from .msta import CONFIG_NAME, MstaModel

    adapter_dir = os.path.join(str(folder), MSTA_SUBFOLDER)
    if has_adapters(model) or not os.path.isfile(os.path.join(adapter_dir, CONFIG_NAME)):
        return model
    return MstaModel.from_pretrained(model, adapter_dir)


__all__ = ["MSTA_SUBFOLDER", "AdapterAdaptation", "MstaAdaptation", "has_adapters", "load_saved_adapter"]
