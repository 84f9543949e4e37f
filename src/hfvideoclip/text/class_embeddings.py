"""Class embeddings from prompt-template ensembles.

Each class name fills every template; the prompts are embedded with the model's text tower, L2-normalised,
averaged over the templates and normalised again (the ViFi-CLIP / TACO recipe, as in CLIP's zero-shot
ImageNet classifier): `VideoClipModel.get_class_embeddings`, or the same `template_ensemble` over
`get_text_features` for other models. Used by the zero-shot pipeline, the evaluation harness and the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.video_clip.class_banks import class_bank_for, prompt_set_embeddings
from .class_descriptions import description_prompts, match_class_descriptions
from .descriptor_table import descriptor_sets, load_descriptor_table, official_descriptor_table
from .templates import KINETICS_TEMPLATES, build_class_prompts


@torch.no_grad()
def class_text_embeddings(model, tokenizer, class_names: Sequence[str],
                          templates: Sequence[str] | str = KINETICS_TEMPLATES, batch_size: int = 256,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """L2-normalised template-ensemble embeddings of `class_names`, a float tensor of shape (num_classes, dim).

    Args:
        model: a `VideoClipModel` (scored through `get_class_embeddings(input_ids (C, K, L), attention_mask)`, the
            template ensemble of the model file) or any model with `get_text_features(input_ids=...,
            attention_mask=...)` -> (num_texts, dim) or an output with `.pooler_output` (e.g. a plain `CLIPModel`),
            whose prompt embeddings go through the same `template_ensemble`.
        tokenizer: called as `tokenizer(prompts, padding=True, truncation=True, return_tensors="pt")`, plus
            `max_length=min(tokenizer.model_max_length, model.config.text_config.max_position_embeddings)` when
            the model has that config: longer prompts are cut with end-of-text kept last.
        class_names: natural-language class names, in label order.
        templates: prompt templates, each with one ``{}`` (default: the 28 Kinetics templates).
        batch_size: prompts per text-encoder forward (whole classes: at least one class per forward).
        device: where the text tower runs (default: the model's device). The result stays on that device.
    """
    class_names = list(class_names)
    if not class_names:
        raise ValueError("`class_names` is empty: pass the names of the classes to embed.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    prompts = build_class_prompts(class_names, templates)  # validates the templates
    return prompt_set_embeddings(model, tokenizer, prompts, batch_size, device)


def uses_descriptors(model) -> bool:
    """Whether `model` scores with the `"optimal_descriptor"` head (OST), whose class bank is descriptor sets."""
    config = getattr(model, "config", None)
    return getattr(config, "scoring_head", "cosine") == "optimal_descriptor"


@torch.no_grad()
def description_class_embeddings(model, tokenizer, entries: Sequence[str],
                                 templates: Sequence[str] | str = KINETICS_TEMPLATES, batch_size: int = 256,
                                 device: torch.device | str | None = None) -> torch.Tensor:
    """(C, D) unit-norm class embeddings from FROSTER-format entries (``"Name: description"``, one per class): the
    K + 1 prompts of `class_descriptions.description_prompts` (K templates filled with the name and followed by the
    entry, then the bare entry), each embedded and L2-normalised, averaged, renormalised (`template_ensemble`)."""

    return prompt_set_embeddings(model, tokenizer, description_prompts(list(entries), templates), batch_size, device)


@torch.no_grad()
def class_bank(model, tokenizer, class_names: Sequence[str], templates: Sequence[str] | str = KINETICS_TEMPLATES,
               device: torch.device | str | None = None, descriptors=None, num_descriptors: int | None = None,
               class_descriptions=None):
    """The class bank of the model's scoring head for `class_names`: `class_text_embeddings` (C, D) for the cosine
    head, a `VideoClipDescriptorBank` for the `"optimal_descriptor"` head.

    `class_descriptions` (cosine head): a path or the files of `class_descriptions.read_class_descriptions`; each
    class is matched to its FROSTER entry and embedded by `description_class_embeddings` (FROSTER's test prompts).
    Descriptors: `descriptors` (a `descriptor_table.DescriptorTable`, class name -> {"spatial", "temporal"}), else
    the `descriptors.json` saved in the model's folder; classes still missing take OST's published descriptors
    where they describe them (`official_descriptor_table`), else the template fallback.
    """
    names = list(class_names)
    if not uses_descriptors(model):
        if descriptors is not None:
            scoring_head = getattr(getattr(model, "config", None), "scoring_head", "cosine")
            raise ValueError(f"descriptors= applies only to models with scoring_head='optimal_descriptor' (OST); "
                             f"this model's scoring_head is {scoring_head!r}: drop descriptors=.")
        if class_descriptions is not None:

            entries = match_class_descriptions(names, class_descriptions)
            return description_class_embeddings(model, tokenizer, entries, templates, device=device)
        return class_text_embeddings(model, tokenizer, class_names, templates, device=device)
    if class_descriptions is not None:
        raise ValueError("--class_descriptions does not apply to this model: it scores against OST descriptors "
                         "(descriptors.json); evaluate it without the flag.")

    if descriptors is None:
        descriptors = load_descriptor_table(getattr(model, "name_or_path", None), **getattr(model, "hub_kwargs", {}))
    # counts may differ between classes (the bank pads and masks them); missing classes get the largest
    count = num_descriptors or (max(len(entry["spatial"]) for entry in descriptors.values()) if descriptors else None)
    missing = [name for name in names if not descriptors or name not in descriptors]
    if missing:
        official, _ = official_descriptor_table(missing, count or 4)
        descriptors = {**(descriptors or {}), **official}
    sets = descriptor_sets(names, descriptors, count)  # the template fallback for missing classes
    table = {name: {kind: sets[kind].per_class[i] for kind in sets} for i, name in enumerate(names)}
    bank = class_bank_for(model, tokenizer, names, descriptors=table)
    return bank.to(torch.device(device)) if device is not None else bank


__all__ = ["class_bank", "class_text_embeddings", "description_class_embeddings", "prompt_set_embeddings",
           "uses_descriptors"]
