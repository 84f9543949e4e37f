"""`msta` (MSTA, ETL4Video): cross-entropy + description consistency, meant for `--adaptation msta` on ViCLIP.

L = CE + alpha * L_CC (`objectives.msta.consistency_loss`, alpha = 1.0, MSTA Table 1). The template embeddings
`w_c` ("a video of {class}.") go through the adapted text branch; the spatial and temporal descriptions through the
frozen branch: the same model with its adapters disabled (`MstaModel.disable_adapter`), no second copy. The frozen
branch never changes, so the description embeddings are computed once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ...text.descriptor_generation import template_texts
from ...text.descriptors import load_class_names, load_descriptions
from ..base import MethodConfig
from ..ce.objective import CrossEntropyObjective
from .loss import consistency_loss


@dataclass
class MstaMethodConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "msta (MSTA) options"

    consistency_weight: float = field(default=1.0, metadata={"help": "alpha of CE + alpha * L_CC (Table 1: 1.0)."})
    spatial_descriptions_file: str | None = field(default=None, metadata={
        "help": 'ETL4Video spatial descriptions {"<idx>": [sentence, ...]} (recipes/generate_descriptors.py '
                "--kind msta); default: the template fallback."})
    temporal_descriptions_file: str | None = field(default=None, metadata={
        "help": "ETL4Video temporal (step) descriptions, same format."})
    description_class_names_file: str | None = field(default=None, metadata={
        "help": "Class names the description files' indices follow; default: the training vocabulary."})
    num_descriptions: int = field(default=2, metadata={
        "help": "Descriptions per class and kind for the template fallback (Table 1: N = 2)."})
    consistency_template: str = field(default="a video of {}.", metadata={
        "help": "Template of w_c in L_CC (the paper's 'a video of {class}.')."})

    def validate(self, args) -> None:
        if (self.spatial_descriptions_file is None) != (self.temporal_descriptions_file is None):
            raise ValueError("--spatial_descriptions_file and --temporal_descriptions_file go together.")
        if "{}" not in self.consistency_template:
            raise ValueError(f"--consistency_template needs a '{{}}' for the class name, got "
                             f"{self.consistency_template!r}.")

    def inactive_fields(self) -> set[str]:
        inactive = {"projection_learning_rate"}  # no heads (the adapters train at --learning_rate)
        inactive.add("num_descriptions" if self.spatial_descriptions_file else "description_class_names_file")
        return inactive


class MstaObjective(CrossEntropyObjective):
    config_class = MstaMethodConfig
    default_temporal_mode = "viclip"
    description = "MSTA (ETL4Video): multi-modal spatio-temporal adapters with description consistency"

    def __init__(self, student, config: MstaMethodConfig, context):
        super().__init__(student, config, context)
        names = self.class_texts.class_names
        tokenizer = self.class_texts.tokenizer
        descriptions = {}
        for kind, path in (("spatial", config.spatial_descriptions_file),
                           ("temporal", config.temporal_descriptions_file)):
            if path:
                file_names = (load_class_names(config.description_class_names_file)
                              if config.description_class_names_file else names)
                loaded = load_descriptions(path, len(file_names), format="msta", kind=kind, class_names=file_names)
                descriptions[kind] = loaded.select(names).per_class
            else:
                descriptions[kind] = [template_texts("msta", kind, name, config.num_descriptions) for name in names]
        self._descriptions = descriptions
        tokens = tokenizer([config.consistency_template.format(name) for name in names], padding=True,
                           truncation=True, return_tensors="pt")
        self.register_buffer("template_input_ids", tokens["input_ids"], persistent=False)
        self.register_buffer("template_attention_mask", tokens["attention_mask"], persistent=False)
        self._description_embeds: dict[str, torch.Tensor] | None = None

    def frozen_branch(self):
        """The adapters switched off (the pre-trained towers), as a context manager."""
        disable = getattr(self.student, "disable_adapter", None)
        return disable() if callable(disable) else contextlib.nullcontext()

    @torch.no_grad()
    def description_embeddings(self) -> dict[str, torch.Tensor]:
        """Per kind, (C, N, D) embeddings of the descriptions through the frozen branch (computed once)."""
        device = self.template_input_ids.device
        if self._description_embeds is None or self._description_embeds["spatial"].device != device:
            tokenizer = self.class_texts.tokenizer
            embeds = {}
            with self.frozen_branch():
                for kind, per_class in self._descriptions.items():
                    flat = [text for texts in per_class for text in texts]
                    tokens = tokenizer(flat, padding=True, truncation=True, return_tensors="pt").to(device)
                    features = self.student.get_text_features(tokens["input_ids"], tokens["attention_mask"])
                    embeds[kind] = features.float().view(len(per_class), -1, features.shape[-1])
            self._description_embeds = embeds
        return self._description_embeds

    def loss(self, pixel_values_videos, labels):
        ce, *_ = self.classification(pixel_values_videos, labels)
        described = self.description_embeddings()
        template = self.student.get_text_features(self.template_input_ids, self.template_attention_mask)
        consistency = consistency_loss(template, described["spatial"], described["temporal"])
        total = ce + self.config.consistency_weight * consistency
        return {"loss": total, "ce": ce.detach(), "consistency": consistency.detach()}


__all__ = ["MstaMethodConfig", "MstaObjective"]
