"""`ost` (OST, Chen et al. CVPR 2024): spatio-temporal descriptors matched to frames by optimal transport.

The model's scoring head becomes `"optimal_descriptor"` (saved in its config, so evaluation and the pipeline score
the same way); the loss is OST's batch-level symmetric KL contrastive loss (`objectives.ost`). Descriptors come from
OST-format files (`recipes/generate_descriptors.py --kind ost`) or, per missing class, the deterministic template
fallback; the exported folder keeps them by class name in `descriptors.json` (`text.descriptor_table`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..objectives.ost import TARGET_SHARPNESS, ost_contrastive_loss
from ..text.descriptor_table import (
    descriptor_prompt_sets,
    read_descriptor_files,
    save_descriptor_table,
    tokenize_prompt_sets,
)
from ..text.descriptors import load_class_names
from .base import MethodConfig, Objective, base_model, text_tower_trains


@dataclass
class OstConfig(MethodConfig):
    _argument_group_name: ClassVar[str] = "ost (OST) options"

    spatial_descriptors_file: str | None = field(default=None, metadata={
        "help": 'OST spatial descriptors {"<idx>": [phrase, ...]} (recipes/generate_descriptors.py --kind ost); '
                "default: the template fallback."})
    temporal_descriptors_file: str | None = field(default=None, metadata={
        "help": "OST temporal descriptors (steps), same format as the spatial file."})
    descriptor_class_names_file: str | None = field(default=None, metadata={
        "help": "Class names the descriptor files' indices follow (their class_names.json); default: the training "
                "vocabulary in label order."})
    num_descriptors: int = field(default=4, metadata={
        "help": "Descriptors per class and kind for the template fallback (OST: 4 spatial + 4 temporal)."})
    target_sharpness: float = field(default=TARGET_SHARPNESS, metadata={
        "help": "softmax(s * label equality) makes the KL target (official NCELoss: 10)."})

    def validate(self, args) -> None:
        if (self.spatial_descriptors_file is None) != (self.temporal_descriptors_file is None):
            raise ValueError("--spatial_descriptors_file and --temporal_descriptors_file go together; give both "
                             "(or neither, for the template fallback).")
        if self.num_descriptors < 1:
            raise ValueError(f"--num_descriptors must be >= 1, got {self.num_descriptors}.")


class OstObjective(Objective):
    """L = KL_v2t + KL_t2v over the batch, logits from the optimal-descriptor head (pool + Sinkhorn OT scores of the
    frames against each label's spatial and temporal descriptors)."""

    config_class = OstConfig
    default_temporal_mode = "mean"
    description = "OST (Chen et al., CVPR 2024): optimal spatio-temporal descriptors matched by Sinkhorn"

    def __init__(self, student, config: OstConfig, context):
        super().__init__(student, config, context)
        base_model(student).set_scoring_head("optimal_descriptor")
        names = self.class_texts.class_names
        self.descriptor_table = None
        if config.spatial_descriptors_file:
            file_names = (load_class_names(config.descriptor_class_names_file)
                          if config.descriptor_class_names_file else names)
            self.descriptor_table = read_descriptor_files(config.spatial_descriptors_file,
                                                          config.temporal_descriptors_file, file_names)
        prompts = descriptor_prompt_sets(names, self.descriptor_table, config.num_descriptors)
        tokenizer = self.class_texts.tokenizer
        for kind, rows in prompts.items():
            ids, mask = tokenize_prompt_sets(tokenizer, rows)
            self.register_buffer(f"{kind}_input_ids", ids, persistent=False)
            self.register_buffer(f"{kind}_attention_mask", mask, persistent=False)

    def descriptor_bank(self, classes: torch.Tensor):
        """The `VideoClipDescriptorBank` of `classes` (U,) through the text tower; with a frozen text tower
        (`--adaptation frozen_text`) every class's bank is embedded once and indexed."""
        from ..models.video_clip import VideoClipDescriptorBank

        embed = self.student.get_descriptor_embeddings
        if not text_tower_trains(self.student):
            cached = getattr(self, "_frozen_bank", None)
            if cached is None or cached.spatial.device != self.spatial_input_ids.device:
                with torch.no_grad():
                    cached = VideoClipDescriptorBank(embed(self.spatial_input_ids, self.spatial_attention_mask),
                                                     embed(self.temporal_input_ids, self.temporal_attention_mask))
                self._frozen_bank = cached
            return cached[classes.to(cached.spatial.device)]
        return VideoClipDescriptorBank(
            embed(self.spatial_input_ids[classes], self.spatial_attention_mask[classes]),
            embed(self.temporal_input_ids[classes], self.temporal_attention_mask[classes]))

    def loss(self, pixel_values_videos, labels):
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        # The official code embeds one text per video (duplicates included); the batch's distinct labels are
        # embedded once and their logit columns repeated per video, which gives the same (B, B) logits.
        classes, per_video = torch.unique(labels, return_inverse=True)
        logits = self.student.compute_logits(video, self.descriptor_bank(classes), frame_embeds=frames)
        ost = ost_contrastive_loss(logits[:, per_video], labels, text_labels=labels,
                                   target_sharpness=self.config.target_sharpness)
        return {"loss": ost, "ost": ost.detach()}

    def save_extras(self, output_dir: str) -> None:
        """Keep the descriptors (by class name) next to the exported model: evaluation and the pipeline read them."""
        table = self.descriptor_table
        if table is None:
            from ..text.descriptor_table import descriptor_sets

            sets = descriptor_sets(self.class_texts.class_names, None, self.config.num_descriptors)
            table = {name: {kind: sets[kind].per_class[i] for kind in sets}
                     for i, name in enumerate(self.class_texts.class_names)}
        save_descriptor_table(output_dir, table)


__all__ = ["OstConfig", "OstObjective"]
