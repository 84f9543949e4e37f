"""Class banks from class names and a tokenizer: what the pipeline (and `hfvideoclip.text.class_embeddings`)
scores a video model against. The model itself takes token ids only (`get_class_embeddings`,
`get_descriptor_embeddings`); this file, shipped with it, turns names, templates and descriptors into those ids.

Works with any model of this folder (`VideoClipModel`, `VideoXClipModel`, adapter wrappers that forward
attributes): it calls `get_class_embeddings` / `get_descriptor_embeddings` and reads `config.scoring_head` and
`config.text_config.max_position_embeddings`.
"""

from __future__ import annotations

import torch

from .modeling_video_clip import VideoClipDescriptorBank, pad_descriptor_rows
from .prompt_templates import KINETICS_TEMPLATES, ost_descriptor_prompts


def tokenize_rows(tokenizer, rows: list[list[str]], device, max_positions: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """C rows of K prompts (same K) -> `input_ids`, `attention_mask` of shape (C, K, L) on `device`, L at most
    min(`tokenizer.model_max_length`, `max_positions`): longer prompts are cut keeping end-of-text last."""
    limit = ({"max_length": min(getattr(tokenizer, "model_max_length", max_positions), max_positions)}
             if max_positions else {})
    encoded = tokenizer([prompt for row in rows for prompt in row], padding=True, truncation=True,
                        return_tensors="pt", **limit)
    shape = (len(rows), -1, encoded["input_ids"].shape[-1])
    return encoded["input_ids"].view(shape).to(device), encoded["attention_mask"].view(shape).to(device)


@torch.no_grad()
def template_class_embeddings(model, tokenizer, class_names, templates=None, batch_size: int = 256,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """Template-ensemble class embeddings (C, D), float32, unit norm: every template filled with every name,
    tokenised with `tokenizer` and embedded `batch_size` prompts (whole classes) at a time on `device` (default
    the model's)."""
    names, templates = list(class_names), list(templates or KINETICS_TEMPLATES)
    device = torch.device(device) if device is not None else model.logit_scale.device
    per_batch = max(1, batch_size // len(templates))
    chunks = []
    for start in range(0, len(names), per_batch):
        chunk = names[start:start + per_batch]
        ids, mask = tokenize_rows(tokenizer, [[t.format(n) for t in templates] for n in chunk], device,
                                  model.config.text_config.max_position_embeddings)
        chunks.append(model.get_class_embeddings(ids, mask).float())
    return torch.cat(chunks)


@torch.no_grad()
def class_bank_for(model, tokenizer, class_names, templates=None, descriptors=None, batch_size: int = 256):
    """The scoring head's class bank for `class_names` (in that order), computed with `tokenizer`:

    - `"cosine"`: `template_class_embeddings` (C, D) over `templates` (default the 28 Kinetics templates);
      `descriptors` is an error there (this head never reads them);
    - `"optimal_descriptor"`: a `VideoClipDescriptorBank` from `descriptors` (class name -> {"spatial": [...],
      "temporal": [...]}; OST's prompts), ValueError naming the classes it lacks. Counts may differ between
      labels: the sets are padded and masked (`pad_descriptor_rows`).
    """
    names = list(class_names)
    if model.config.scoring_head != "optimal_descriptor":
        if descriptors is not None:
            raise ValueError(f"descriptors= applies only to models with scoring_head='optimal_descriptor' (OST); "
                             f"this model's scoring_head is {model.config.scoring_head!r}: drop descriptors=.")
        return template_class_embeddings(model, tokenizer, names, templates, batch_size)
    missing = [name for name in names if not descriptors or name not in descriptors]
    if missing:
        raise ValueError(f"No descriptors for {len(missing)} label(s): {missing[:5]}; this model scores against "
                         'class descriptors: pass descriptors={"<label>": {"spatial": [...], "temporal": [...]}} '
                         "(or keep a descriptors.json next to the model).")
    banks, masks = {}, {}
    for kind in ("spatial", "temporal"):
        rows, valid = pad_descriptor_rows([ost_descriptor_prompts(kind, n, descriptors[n][kind]) for n in names])
        ids, mask = tokenize_rows(tokenizer, rows, model.logit_scale.device,
                                  model.config.text_config.max_position_embeddings)
        banks[kind] = model.get_descriptor_embeddings(ids, mask).float()
        masks[kind] = None if valid is None else valid.to(banks[kind].device)
    return VideoClipDescriptorBank(banks["spatial"], banks["temporal"], masks["spatial"], masks["temporal"])


__all__ = ["class_bank_for", "template_class_embeddings", "tokenize_rows"]
