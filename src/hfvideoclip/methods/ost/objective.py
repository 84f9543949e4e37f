"""`ost` (OST, Chen et al. CVPR 2024): spatio-temporal descriptors matched to frames by optimal transport.

The model's scoring head becomes `"optimal_descriptor"` (saved in its config, so evaluation and the pipeline score
the same way); the loss is OST's batch-level symmetric KL contrastive loss (`objectives.ost`). Descriptors come from
OST-format files (`recipes/generate_descriptors.py --kind ost`), else OST's published files shipped with the package
(K400, K600 splits, HMDB-51, UCF-101, SSv2; `text.descriptor_table.official_descriptor_table`), else, per missing
class, the deterministic template fallback; the exported folder keeps them by class name in `descriptors.json`
(`text.descriptor_table`). Counts may differ between classes (LLM-written files rarely are even; the official code,
tomchen-ctj/OST `trainers/OST.py`, stacks equal-sized sets): the sets are padded and masked, and the masks travel
with each video's descriptor set through the all-gather.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ...models.video_clip import VideoClipDescriptorBank
from ...text.descriptor_table import (
    descriptor_prompt_sets,
    descriptor_sets,
    official_descriptor_table,
    read_descriptor_files,
    save_descriptor_table,
    tokenize_prompt_sets,
)
from ...text.descriptors import load_class_names
from ..base import MethodConfig, Objective, base_model, text_tower_trains
from .loss import TARGET_SHARPNESS, gather_batch, ost_contrastive_loss

logger = logging.getLogger(__name__)


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
        "help": "Descriptors per class and kind, of the published files and the template fallback (OST: 4 spatial "
                "+ 4 temporal; published: 2, 4, 8, SSv2 4)."})
    official_descriptors: bool = field(default=True, metadata={
        "help": "Without descriptor files: OST's published descriptors (shipped, K400 / K600 splits / HMDB-51 / "
                "UCF-101 / SSv2) for the classes they describe; false: the template fallback for every class."})
    target_sharpness: float = field(default=TARGET_SHARPNESS, metadata={
        "help": "softmax(s * label equality) makes the KL target (official NCELoss: 10)."})

    def inactive_fields(self) -> set[str]:
        inactive = {"projection_learning_rate"}  # no heads
        inactive.add("official_descriptors" if self.spatial_descriptors_file else "descriptor_class_names_file")
        return inactive

    def validate(self, args) -> None:
        if (self.spatial_descriptors_file is None) != (self.temporal_descriptors_file is None):
            raise ValueError("--spatial_descriptors_file and --temporal_descriptors_file go together; give both "
                             "(or neither, for the template fallback).")
        if self.num_descriptors < 1:
            raise ValueError(f"--num_descriptors must be >= 1, got {self.num_descriptors}.")
        if getattr(args, "label_smoothing_factor", 0.0):
            raise ValueError(f"--label_smoothing_factor {args.label_smoothing_factor} does not apply to --method ost: "
                             "its loss is a KL divergence to the soft target softmax(target_sharpness * same-label), "
                             "not a cross-entropy; soften the target with a lower --target_sharpness instead.")
        if getattr(args, "class_descriptions", None):
            raise ValueError("--class_descriptions does not apply to --method ost: OST scores frames against spatial "
                             "and temporal descriptors; pass --spatial_descriptors_file / --temporal_descriptors_file.")


class OstObjective(Objective):
    """L = KL_v2t + KL_t2v over the batch, logits from the optimal-descriptor head (pool + Sinkhorn OT scores of the
    frames against each label's spatial and temporal descriptors)."""

    config_class = OstConfig
    default_temporal_mode = "mean"
    description = "OST (Chen et al., CVPR 2024): optimal spatio-temporal descriptors matched by Sinkhorn"
    backbone_needs = {"frame_scoring": "it scores every frame's embedding against per-class descriptors by optimal "
                                       "transport (scoring head 'optimal_descriptor')"}

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
        elif config.official_descriptors:
            table, folder = official_descriptor_table(names, config.num_descriptors)
            if table:
                logger.info("OST descriptors of %d of %d classes: the published descriptors/%s files.", len(table),
                            len(names), folder)
                self.descriptor_table = table
        prompts = descriptor_prompt_sets(names, self.descriptor_table, config.num_descriptors)
        tokenizer = self.class_texts.tokenizer
        for kind, rows in prompts.items():
            ids, mask, descriptor_mask = tokenize_prompt_sets(tokenizer, rows)  # descriptor_mask (C, N) or None
            self.register_buffer(f"{kind}_input_ids", ids, persistent=False)
            self.register_buffer(f"{kind}_attention_mask", mask, persistent=False)
            self.register_buffer(f"{kind}_descriptor_mask", descriptor_mask, persistent=False)

    def descriptor_bank(self, classes: torch.Tensor):
        """The `VideoClipDescriptorBank` of `classes` (U,) through the text tower; with a frozen text tower
        (`--adaptation frozen_text`) every class's bank is embedded once and indexed."""

        embed = self.student.get_descriptor_embeddings
        masks = (self.spatial_descriptor_mask, self.temporal_descriptor_mask)  # (C, N) each, None when even
        if not text_tower_trains(self.student):
            cached = getattr(self, "_frozen_bank", None)
            if cached is None or cached.spatial.device != self.spatial_input_ids.device:
                with torch.no_grad():
                    cached = VideoClipDescriptorBank(embed(self.spatial_input_ids, self.spatial_attention_mask),
                                                     embed(self.temporal_input_ids, self.temporal_attention_mask),
                                                     *masks)
                self._frozen_bank = cached
            return cached[classes.to(cached.spatial.device)]
        return VideoClipDescriptorBank(
            embed(self.spatial_input_ids[classes], self.spatial_attention_mask[classes]),
            embed(self.temporal_input_ids[classes], self.temporal_attention_mask[classes]),
            *(None if mask is None else mask[classes] for mask in masks))

    def loss(self, pixel_values_videos, labels):
        video, frames = self.student.get_video_features(pixel_values_videos=pixel_values_videos,
                                                        return_frame_embeds=True)
        # As the official code (main_nce.py): the logits span the global batch. Each process's frames, each of its
        # videos' descriptor sets and its labels are all-gathered (gradient: `gather_batch`), and the (B_g, B_g)
        # logits score every video against every video's descriptor set, duplicates included: the Sinkhorn stopping
        # test then averages over the same B_g x B_g problems as the official one (scoring the distinct labels only
        # and repeating columns weighs each label once, which moves the stopping iteration). The batch's distinct
        # labels are still embedded once (rows indexed per video).
        # Uneven descriptor counts: each video's (N,) descriptor masks are gathered with its sets (as uint8: the
        # buffers exist on every process or on none, so every process joins the same collectives).
        classes, per_video = torch.unique(labels, return_inverse=True)
        bank = self.descriptor_bank(classes)[per_video]  # (B, N, D) per video, masks (B, N) or None
        masks = [mask for mask in (bank.spatial_mask, bank.temporal_mask) if mask is not None]
        video, frames, spatial, temporal, labels, *masks = gather_batch(
            video, frames, bank.spatial, bank.temporal, labels, *(mask.to(torch.uint8) for mask in masks))
        masks = [mask.bool() for mask in masks]
        spatial_mask = masks.pop(0) if bank.spatial_mask is not None else None
        temporal_mask = masks.pop(0) if bank.temporal_mask is not None else None
        logits = self.student.compute_logits(video, type(bank)(spatial, temporal, spatial_mask, temporal_mask),
                                             frame_embeds=frames)
        ost = ost_contrastive_loss(logits, labels, text_labels=labels, target_sharpness=self.config.target_sharpness)
        return {"loss": ost, "ost": ost.detach()}

    def save_extras(self, output_dir: str) -> None:
        """Keep the descriptors (by class name) next to the exported model: evaluation and the pipeline read them."""
        table = self.descriptor_table
        if table is None:

            sets = descriptor_sets(self.class_texts.class_names, None, self.config.num_descriptors)
            table = {name: {kind: sets[kind].per_class[i] for kind in sets}
                     for i, name in enumerate(self.class_texts.class_names)}
        save_descriptor_table(output_dir, table)


__all__ = ["OstConfig", "OstObjective"]
