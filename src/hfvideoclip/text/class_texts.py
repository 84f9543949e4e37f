"""`ClassTexts`: the tokenised prompts of a training vocabulary, one row per (class, template), plus one bare prompt
per class (its description, or its name).

With descriptions (FROSTER's rephrased classes `{"0": "Abseiling: This video shows ..."}`, matched by
`text.class_descriptions`), a templated prompt is `template(prefix) + " " + description` (``prefix`` the entry's
text before its first ``:``) and the bare prompt is the description itself, as FROSTER's official code builds them
(`text.class_descriptions.description_prompts`); the bare prompt then joins every template sample and ensemble.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .class_descriptions import description_prompts
from .templates import build_class_prompts


class ClassTexts(nn.Module):
    """Buffers `input_ids` / `attention_mask` (C, K, L) for C classes and K templates, and `bare_input_ids` /
    `bare_attention_mask` (C, L), padded to one length L."""

    def __init__(self, tokenizer, class_names: Sequence[str], templates: Sequence[str],
                 descriptions: Sequence[str] | None = None):
        super().__init__()
        self.tokenizer = tokenizer  # methods with texts of their own (descriptors) tokenise them alike
        self.class_names = list(class_names)
        self.templates = list(templates)
        if descriptions is not None and len(descriptions) != len(self.class_names):
            raise ValueError(f"Got {len(descriptions)} descriptions for {len(self.class_names)} classes; give one "
                             "description per class, in label order.")
        self.has_descriptions = bool(descriptions)
        if descriptions:
            prompts = [row[:-1] for row in description_prompts(descriptions, self.templates)]
        else:
            prompts = build_class_prompts(self.class_names, self.templates)
        bare = list(descriptions) if descriptions else list(self.class_names)
        flat = [prompt for row in prompts for prompt in row] + bare
        tokens = tokenizer(flat, padding=True, truncation=True, return_tensors="pt")
        count, num_classes = len(flat) - len(bare), len(self.class_names)
        shape = (num_classes, len(self.templates), -1)
        for name in ("input_ids", "attention_mask"):
            self.register_buffer(name, tokens[name][:count].reshape(shape), persistent=False)
            self.register_buffer(f"bare_{name}", tokens[name][count:], persistent=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sample_index(self, generator: torch.Generator) -> int:
        """One random template index for all classes (as FROSTER's code draws it each step)."""
        return int(torch.randint(len(self.templates), (), generator=generator))

    def sample(self, generator: torch.Generator, with_bare: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompts of one random template index (`sample_index`): ids and mask (C, L), or (C, 2, L) with the bare
        prompt as the second prompt of every class (`with_bare`; default: when there are descriptions, as FROSTER's
        training draws ``[template, '{}']``)."""
        return self.prompts(self.sample_index(generator), self.has_descriptions if with_bare is None else with_bare)

    def ensemble(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every prompt of every class: ids and mask (C, K, L), or (C, K + 1, L) with the bare prompt last when there
        are descriptions (FROSTER's 29-prompt test-time class texts)."""
        if not self.has_descriptions:
            return self.input_ids, self.attention_mask
        return (torch.cat([self.input_ids, self.bare_input_ids[:, None]], dim=1),
                torch.cat([self.attention_mask, self.bare_attention_mask[:, None]], dim=1))

    def prompts(self, index: int, with_bare: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Template `index` for every class: ids and mask (C, L), or (C, 2, L) with the bare prompt (`with_bare`)."""
        ids, mask = self.input_ids[:, index], self.attention_mask[:, index]
        if with_bare:
            ids = torch.stack([ids, self.bare_input_ids], dim=1)
            mask = torch.stack([mask, self.bare_attention_mask], dim=1)
        return ids, mask


__all__ = ["ClassTexts"]
