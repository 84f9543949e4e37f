"""`ClassTexts`: the tokenised prompts of a training vocabulary, one row per (class, template).

With descriptions (FROSTER), the prompt is `template(name) + " " + description`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .templates import build_class_prompts


class ClassTexts(nn.Module):
    """`input_ids` / `attention_mask` buffers of shape (C, K, L): C classes, K templates, L tokens."""

    def __init__(self, tokenizer, class_names: Sequence[str], templates: Sequence[str],
                 descriptions: Sequence[str] | None = None):
        super().__init__()
        self.class_names = list(class_names)
        self.templates = list(templates)
        if descriptions is not None and len(descriptions) != len(self.class_names):
            raise ValueError(f"Got {len(descriptions)} descriptions for {len(self.class_names)} classes; give one "
                             "description per class, in label order.")
        prompts = build_class_prompts(self.class_names, self.templates)
        if descriptions:
            prompts = [[f"{prompt} {descriptions[index]}" for prompt in row] for index, row in enumerate(prompts)]
        flat = [prompt for row in prompts for prompt in row]
        tokens = tokenizer(flat, padding=True, truncation=True, return_tensors="pt")
        shape = (len(self.class_names), len(self.templates), -1)
        self.register_buffer("input_ids", tokens["input_ids"].view(shape), persistent=False)
        self.register_buffer("attention_mask", tokens["attention_mask"].view(shape), persistent=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random template per class (FROSTER's recipe): ids and mask of shape (C, L)."""
        choice = torch.randint(len(self.templates), (self.num_classes,), generator=generator)
        choice = choice.to(self.input_ids.device)
        rows = torch.arange(self.num_classes, device=choice.device)
        return self.input_ids[rows, choice], self.attention_mask[rows, choice]


__all__ = ["ClassTexts"]
