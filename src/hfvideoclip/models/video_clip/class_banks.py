"""Class banks from class names and a tokenizer: what the pipeline (and `hfvideoclip.text.class_embeddings`)
scores a video model against. The model itself takes token ids only (`get_class_embeddings`,
`get_descriptor_embeddings`); this file, shipped with it, turns names, templates and descriptors into those ids.

Works with any model of this folder (`VideoClipModel`, `VideoXClipModel`, adapter wrappers that forward
attributes): it calls `get_class_embeddings` / `get_descriptor_embeddings` and reads `config.scoring_head` and
`config.text_config.max_position_embeddings`.
"""

from __future__ import annotations

import torch

from .modeling_video_clip import VideoClipDescriptorBank, pad_descriptor_rows, template_ensemble
from .prompt_templates import KINETICS_TEMPLATES, ost_descriptor_prompts


def tokenize_rows(tokenizer, rows: list[list[str]], device, max_positions: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """C rows of K prompts (same K) -> `input_ids`, `attention_mask` of shape (C, K, L) on `device`, L at most
    min(`tokenizer.model_max_length`, `max_positions`): longer prompts are cut keeping end-of-text last. The mask is
    None for a tokenizer that returns none."""
    limit = ({"max_length": min(getattr(tokenizer, "model_max_length", max_positions), max_positions)}
             if max_positions else {})
    encoded = tokenizer([prompt for row in rows for prompt in row], padding=True, truncation=True,
                        return_tensors="pt", **limit)
    shape = (len(rows), -1, encoded["input_ids"].shape[-1])
    mask = encoded.get("attention_mask") if hasattr(encoded, "get") else None
    return encoded["input_ids"].view(shape).to(device), None if mask is None else mask.view(shape).to(device)


def model_device(model) -> torch.device:
    """Device of a model or model-like object (its `device`, else its first parameter's, else CPU)."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        for parameter in parameters():
            return parameter.device
    return torch.device("cpu")


def _as_embedding_tensor(output) -> torch.Tensor:
    """`get_text_features` returns a tensor for `VideoClipModel`; transformers 5's `CLIPModel` returns a
    `BaseModelOutputWithPooling` whose projected embedding is `.pooler_output`."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    raise TypeError(f"get_text_features returned {type(output).__name__}; expected a tensor (num_texts, dim) or an "
                    "output with `.pooler_output`.")


@torch.no_grad()
def prompt_set_embeddings(model, tokenizer, prompts, batch_size: int = 256,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """(C, D) float32 class embeddings from K prompts per class (`prompts[c]`, K the same for every class),
    `batch_size` prompts (whole classes) per forward, prompts longer than the text tower's positions cut with
    end-of-text kept. A model of this folder embeds each class with `get_class_embeddings` (C, K, L) (its template
    ensemble); any other model (a plain `CLIPModel`) through `get_text_features` and `template_ensemble`."""
    num_prompts = len(prompts[0])
    classes_per_batch = max(1, batch_size // num_prompts)
    device = torch.device(device) if device is not None else model_device(model)
    get_class_embeddings = getattr(model, "get_class_embeddings", None)
    positions = getattr(getattr(getattr(model, "config", None), "text_config", None), "max_position_embeddings", None)
    chunks = []
    for start in range(0, len(prompts), classes_per_batch):
        chunk = [list(class_prompts) for class_prompts in prompts[start:start + classes_per_batch]]
        input_ids, attention_mask = tokenize_rows(tokenizer, chunk, device,
                                                  positions if isinstance(positions, int) else None)
        if callable(get_class_embeddings):
            embeds = get_class_embeddings(input_ids, attention_mask)
        else:
            length = input_ids.shape[-1]
            features = _as_embedding_tensor(model.get_text_features(
                input_ids=input_ids.reshape(-1, length),
                attention_mask=None if attention_mask is None else attention_mask.reshape(-1, length)))
            embeds = template_ensemble(features.float().view(len(chunk), num_prompts, -1))
        chunks.append(embeds.float())
    return torch.cat(chunks)


def template_class_embeddings(model, tokenizer, class_names, templates=None, batch_size: int = 256,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """Template-ensemble class embeddings (C, D), float32: every template (default the 28 Kinetics templates) filled
    with every name, embedded by `prompt_set_embeddings`."""
    templates = list(templates or KINETICS_TEMPLATES)
    return prompt_set_embeddings(model, tokenizer, [[t.format(n) for t in templates] for n in class_names],
                                 batch_size, device)


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


__all__ = ["class_bank_for", "model_device", "prompt_set_embeddings", "template_class_embeddings", "tokenize_rows"]
