"""`lora`: low-rank adapters through `peft` on the named linear layers (`--lora_target_modules`), merged at export;
the adapter alone is also saved in `<output_dir>/adapter/` (peft's own format, loadable with
`PeftModel.from_pretrained(base_model, "<output_dir>/adapter")`)."""

from __future__ import annotations

import copy
import os

from .base import Adaptation, register_adaptation


@register_adaptation("lora")
class LoraAdaptation(Adaptation):
    name = "lora"
    trains_model_weights = False
    averages_parameters = False

    def apply(self, model, args):
        from peft import LoraConfig, get_peft_model

        targets = [name.strip() for name in args.lora_target_modules.split(",") if name.strip()]
        if not targets:
            raise ValueError("--lora_target_modules is empty; name the linear layers to adapt, e.g. q_proj,v_proj.")
        config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, target_modules=targets, lora_dropout=0.0)
        return get_peft_model(model, config)

    def export(self, model):
        return copy.deepcopy(model).merge_and_unload() if hasattr(model, "merge_and_unload") else model

    def save(self, exported, output_dir, trained=None):
        exported.save_pretrained(output_dir)
        if trained is not None and hasattr(trained, "peft_config"):
            trained.save_pretrained(os.path.join(output_dir, ADAPTER_SUBFOLDER))


ADAPTER_SUBFOLDER = "adapter"
"""Where the LoRA adapter alone is written next to the merged model (the merged model is what loads by default)."""
