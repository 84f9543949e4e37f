"""The `zero-shot-video-classification` pipeline: score videos against any list of labels.

Self-contained (imports only files of this folder): it ships with saved models, and `config.custom_pipelines`
(`modeling_video_clip.CUSTOM_PIPELINES`, written by `save_pretrained`) points
`pipeline("zero-shot-video-classification", model=folder or repo_id, trust_remote_code=True)` at it where
`hfvideoclip` is not installed. The package registers a subclass (`hfvideoclip.pipelines`) that adds the adapters of
folders exported before `config.adapter` existed and the descriptor template fallback.

```python
clf = pipeline("zero-shot-video-classification", model="path/or/hub-id")
clf("video.mp4", candidate_labels=["archery", "juggling"])   # [{"label", "score"}, ...] best first
```
Label embeddings (prompt-template ensembles) are computed once per (labels, templates) and reused across calls.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Sequence, Sized

import torch
from transformers import Pipeline

# Every file of the model folder this pipeline needs, imported directly: transformers releases before 5.23 copy only
# the direct relative imports of a remote module into their module cache, not the imports of those.
from .bottleneck_adapters import MstaAdapter  # noqa: F401
from .class_banks import class_bank_for
from .configuration_video_clip import VideoClipConfig  # noqa: F401
from .descriptor_files import DESCRIPTOR_TABLE_FILE, load_descriptor_table, read_descriptor_table
from .fork_safety import install_fork_guard  # noqa: F401
from .modeling_video_clip import CUSTOM_PIPELINES, VideoClipModel, combine_view_logits  # noqa: F401
from .optimal_transport import optimal_descriptor_logits  # noqa: F401
from .precision import full_precision  # noqa: F401
from .processing_video_clip import VideoClipProcessor
from .prompt_templates import KINETICS_TEMPLATES
from .st_adapter import StAdapter  # noqa: F401
from .video_decoding import decode_video  # noqa: F401
from .video_sampling import segment_frame_indices  # noqa: F401
from .video_transforms import normalize  # noqa: F401
from .visual_prompts import VisualPrompts  # noqa: F401

_CACHE_SIZE = 8

class ZeroShotVideoClassificationPipeline(Pipeline):
    """Zero-shot video classification with a `VideoClipModel`.

    Call arguments: `videos` (one video or a list: paths, bytes, file objects, arrays (T, H, W, 3)),
    `candidate_labels` (list of str), `hypothesis_template` (a template with "{}" or a list of templates; default
    the 28-template ensemble), `num_clips`/`num_crops` (test views, combined by `config.view_pooling`), `batch_size`
    (videos per forward, default 8), `num_workers` (DataLoader workers that decode the videos in parallel), `top_k`.
    Inputs may also be a generator or a `KeyDataset`. Returns a list of `{"label", "score"}` sorted by score (a list of such lists
    for a list of videos); scores are a softmax over the labels and sum to 1.
    """

    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, processor: VideoClipProcessor | None = None, **kwargs):
        super().__init__(*args, processor=processor, **kwargs)
        if self.processor is None:
            # The tokenizer's folder maps AutoConfig to this folder's code, already trusted to run this pipeline.
            self.processor = VideoClipProcessor.from_pretrained(self.model.name_or_path, trust_remote_code=True,
                                                                **getattr(self.model, "hub_kwargs", {}))
        if not hasattr(self.model, "compute_logits"):
            self.model = _as_video_model(self.model, self.processor)
        tokenizer = self.processor.tokenizer
        max_positions = self.model.config.text_config.max_position_embeddings
        if tokenizer is not None and tokenizer.model_max_length > max_positions:
            tokenizer.model_max_length = max_positions  # truncate prompts to the text tower's context
        self.model.eval()
        self._label_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        if self._batch_size is None:
            self._batch_size = 8  # videos per forward unless the call says otherwise

    # Pipeline.__call__ drives these: batching (`batch_size`), decoding in DataLoader workers (`num_workers`),
    # lists, generators and `KeyDataset` inputs.
    def _sanitize_parameters(self, candidate_labels=None, hypothesis_template=None, num_clips=None, num_crops=None,
                             top_k=None, descriptors=None, **kwargs):
        if kwargs:
            raise TypeError(f"zero-shot-video-classification got unexpected arguments {sorted(kwargs)}; it takes "
                            "candidate_labels, hypothesis_template, descriptors, num_clips, num_crops, top_k, "
                            "batch_size and num_workers.")
        preprocess = {k: v for k, v in (("num_clips", num_clips), ("num_crops", num_crops)) if v is not None}
        forward = {k: v for k, v in (("candidate_labels", candidate_labels),
                                     ("hypothesis_template", hypothesis_template)) if v is not None}
        if descriptors is not None:
            scoring_head = getattr(self.model.config, "scoring_head", "cosine")
            if scoring_head != "optimal_descriptor":
                raise ValueError(f"descriptors= applies only to models with scoring_head='optimal_descriptor' (OST); "
                                 f"this model's scoring_head is {scoring_head!r}: drop descriptors=.")
            forward["descriptors"] = _descriptor_key(descriptors)
        if num_clips is not None or num_crops is not None:
            forward["num_views"] = (num_clips or 1) * (num_crops or 1)
        post = {k: v for k, v in (("top_k", top_k), ("candidate_labels", candidate_labels)) if v is not None}
        return preprocess, forward, post

    def preprocess(self, video, num_clips: int = 1, num_crops: int = 1):
        """One video -> its V = num_clips * num_crops views, (V, T, 3, S, S) (decoded here: in the workers).

        The views come in the model's dtype when that is 16-bit (bfloat16, float16), as `_forward` would cast them
        anyway: half the bytes for the workers to pass back and for the copy to the device."""
        pixels = self.processor.video_processor([video], num_clips=num_clips,
                                                num_crops=num_crops)["pixel_values_videos"]
        dtype = self.model.dtype
        if dtype in (torch.bfloat16, torch.float16):
            pixels = pixels.to(dtype)
        return {"pixel_values_videos": pixels}

    def _forward(self, model_inputs, candidate_labels=None, hypothesis_template=None, num_views: int = 1,
                 descriptors=None):
        """A batch of B videos' views (B * V, T, 3, S, S) -> class probabilities (B, num_labels), the views
        combined by the model's `config.view_pooling` (`combine_view_logits`)."""
        labels = _check_labels(candidate_labels)
        logits = self._view_logits(model_inputs["pixel_values_videos"], labels, _templates(hypothesis_template),
                                   descriptors)
        view_pooling = getattr(self.model.config, "view_pooling", None) or "logits"
        return {"scores": combine_view_logits(logits.view(-1, num_views, len(labels)), view_pooling)}

    def postprocess(self, model_outputs, top_k=None, candidate_labels=None):
        return _ranked(model_outputs["scores"][0], _check_labels(candidate_labels), top_k)

    def __call__(self, videos, candidate_labels=None, **kwargs):
        """`videos`: one video, a list, a generator or a `KeyDataset`; `candidate_labels` here, by keyword or second
        positional argument, or given when the pipeline was built (`pipeline(..., candidate_labels=[...])`); see the
        class docstring for the other arguments."""
        if candidate_labels is not None:
            kwargs["candidate_labels"] = candidate_labels
        labels = kwargs.get("candidate_labels", self._forward_params.get("candidate_labels"))
        if labels is None:
            raise ValueError("zero-shot-video-classification needs candidate_labels=[...], e.g. "
                             "clf(video, candidate_labels=['archery', 'juggling']) or pipeline(..., "
                             "candidate_labels=[...]).")
        _check_labels(labels)
        return super().__call__(videos, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs):
        """The model with its code and `custom_pipelines` (`VideoClipModel.save_pretrained`; a tuner-wrapped model
        as the `VideoClipModel` it assembles) and the processor, so `pipeline(task, model=save_directory)` loads
        this pipeline again. `kwargs` go to both `save_pretrained` calls."""
        os.makedirs(save_directory, exist_ok=True)
        model = self.model
        if not isinstance(model, VideoClipModel) and hasattr(model, "to_video_clip_model"):
            model = model.to_video_clip_model()
        model.save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory, **kwargs)

    def get_iterator(self, inputs, num_workers: int, batch_size: int, preprocess_params, forward_params,
                     postprocess_params):
        """Pipeline's iterator, with a collate that stacks the videos' views (the default pads text-like keys)."""
        from torch.utils.data import DataLoader
        from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

        pin = self.device.type == "cuda"  # pinned batches: the copy to a GPU at full speed (32 bf16 views: 77 MB)
        if isinstance(inputs, Sized):
            dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
            num_workers = min(num_workers, len(inputs))  # no worker started without a video to decode
        else:
            num_workers = min(num_workers, 1)  # an iterable input is read by one worker at most
            dataset = PipelineIterator(inputs, self.preprocess, preprocess_params)
        num_batches = math.ceil(len(inputs) / batch_size) if isinstance(inputs, Sized) else None
        if num_batches is not None and num_batches < num_workers and batch_size > 1:
            # A DataLoader batch is made by one worker, so fewer batches than workers leave workers idle (8 videos at
            # batch_size 8 use one worker). Then single videos are loaded and batched here, which keeps every worker
            # busy at the cost of one copy per batch in this process (measured slower when there are enough
            # batches to go round: benchmarks/RESULTS.md, 2026-12-03).
            videos = DataLoader(dataset, num_workers=num_workers, batch_size=1, collate_fn=_stack_views)
            loader = _Rebatched(videos, batch_size, pin)
        else:
            loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=_stack_views,
                                pin_memory=pin)
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)

    @torch.no_grad()
    def _view_logits(self, pixel_values_videos: torch.Tensor, labels: tuple[str, ...], templates: tuple[str, ...],
                     descriptors=None) -> torch.Tensor:
        """(views, T, 3, S, S) -> logits (views, num_labels) from the model's scoring head (`compute_logits`)."""
        text = self.label_embeddings(labels, templates, descriptors)
        pixels = pixel_values_videos.to(device=self.model.device, dtype=self.model.dtype)
        video, frames = self.model.get_video_features(pixel_values_videos=pixels, return_frame_embeds=True)
        return self.model.compute_logits(video, text, frame_embeds=frames).float()

    def label_embeddings(self, labels: tuple[str, ...], templates: tuple[str, ...], descriptors=None):
        """The labels' class bank for the model's head, cached per (labels, templates, descriptors): L2-normalised
        template-ensemble embeddings (num_labels, D) for the cosine head; for the `"optimal_descriptor"` head (OST)
        a `VideoClipDescriptorBank` of the labels' descriptors (`descriptors`, else the model folder's
        `descriptors.json`, else the template fallback)."""
        key = (labels, templates, descriptors)
        if key in self._label_cache:
            self._label_cache.move_to_end(key)
            return self._label_cache[key]
        table = None if descriptors is None else {name: {"spatial": list(s), "temporal": list(t)}
                                                  for name, s, t in descriptors}
        embeds = self.class_bank(list(labels), list(templates), table).float()
        self._label_cache[key] = embeds
        if len(self._label_cache) > _CACHE_SIZE:
            self._label_cache.popitem(last=False)
        return embeds


    def class_bank(self, labels: list[str], templates: list[str], descriptors: dict | None):
        """The model head's class bank (`class_banks.class_bank_for`); descriptors default to the model folder's
        `descriptors.json` (read for the `"optimal_descriptor"` head only)."""
        if descriptors is None and getattr(self.model.config, "scoring_head", "cosine") == "optimal_descriptor":
            descriptors = load_descriptor_table(getattr(self.model, "name_or_path", None),
                                                **getattr(self.model, "hub_kwargs", {}))
        return class_bank_for(self.model, self.processor.tokenizer, labels, templates, descriptors)


def _descriptor_key(descriptors) -> tuple:
    """`descriptors` (a `{label: {"spatial": [...], "temporal": [...]}}` mapping or the path of such a JSON file,
    e.g. a model folder's `descriptors.json`) as a hashable key for the embedding cache."""
    if isinstance(descriptors, (str, os.PathLike)):
        path = str(descriptors)
        descriptors = read_descriptor_table(os.path.join(path, DESCRIPTOR_TABLE_FILE) if os.path.isdir(path) else path)
    try:
        return tuple((str(name), tuple(entry["spatial"]), tuple(entry["temporal"]))
                     for name, entry in sorted(descriptors.items()))
    except (AttributeError, KeyError, TypeError):
        raise ValueError('descriptors must map each label to {"spatial": [...], "temporal": [...]} (or be the path '
                         "of such a JSON file).") from None


def _stack_views(items: list[dict], pin_memory: bool = False) -> dict:
    """Collate preprocessed videos: their views concatenated, (sum of V, T, 3, S, S), into pinned memory with
    `pin_memory`."""
    views = [item["pixel_values_videos"] for item in items]
    if not pin_memory:
        return {"pixel_values_videos": torch.cat(views, dim=0)}
    shape = (sum(v.shape[0] for v in views), *views[0].shape[1:])
    out = torch.empty(shape, dtype=views[0].dtype, pin_memory=True)
    return {"pixel_values_videos": torch.cat(views, dim=0, out=out)}


class _Rebatched:
    """Batches of `batch_size` videos from a loader of single videos (each item `_stack_views` of one video), in
    order; the last batch may be smaller."""

    def __init__(self, videos, batch_size: int, pin_memory: bool):
        self.videos, self.batch_size, self.pin_memory = videos, batch_size, pin_memory

    def __len__(self) -> int:
        return math.ceil(len(self.videos) / self.batch_size)

    def __iter__(self):
        pending = []
        for item in self.videos:
            pending.append(item)
            if len(pending) == self.batch_size:
                yield _stack_views(pending, self.pin_memory)
                pending = []
        if pending:
            yield _stack_views(pending, self.pin_memory)


def _as_video_model(model, processor) -> VideoClipModel:
    """A plain `CLIPModel` (e.g. `openai/clip-vit-base-patch16`) becomes a frame-mean `VideoClipModel` with the same
    weights, sampling the processor's number of frames; any other model is refused with the fix."""
    from transformers import CLIPModel

    if not isinstance(model, CLIPModel):
        raise ValueError(f"zero-shot-video-classification needs a VideoClipModel or a CLIPModel checkpoint; "
                         f"{model.name_or_path!r} loaded as {type(model).__name__}. Convert it first (see "
                         "`hfvideoclip convert --help`).")
    num_frames = getattr(getattr(processor, "video_processor", None), "num_frames", None) or 8
    return VideoClipModel.from_clip(model, temporal_mode="mean", num_frames=num_frames).to(model.device).eval()


def _check_labels(candidate_labels) -> tuple[str, ...]:
    if isinstance(candidate_labels, str):
        candidate_labels = [label.strip() for label in candidate_labels.split(",")]
    if not candidate_labels:
        raise ValueError("`candidate_labels` is empty: pass the class names to choose from, e.g. "
                         "candidate_labels=['archery', 'juggling'].")
    labels = tuple(candidate_labels)
    if any(not isinstance(label, str) or not label.strip() for label in labels):
        raise ValueError(f"`candidate_labels` must be non-empty strings, got {list(labels)!r}.")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"`candidate_labels` has duplicates {duplicates}: each label must appear once.")
    return labels


def _templates(hypothesis_template) -> tuple[str, ...]:
    if hypothesis_template is None:
        return tuple(KINETICS_TEMPLATES)
    templates = (hypothesis_template,) if isinstance(hypothesis_template, str) else tuple(hypothesis_template)
    if not templates or any("{}" not in t for t in templates):
        raise ValueError(f"`hypothesis_template` must be a template or list of templates containing '{{}}' for the "
                         f"label, e.g. 'a video of {{}}.'; got {hypothesis_template!r}.")
    return templates


def _ranked(probabilities: torch.Tensor, labels: Sequence[str], top_k: int | None) -> list[dict]:
    scores = probabilities.float().tolist()
    ranked = sorted(zip(labels, scores), key=lambda pair: -pair[1])
    if top_k is not None:
        ranked = ranked[:top_k]
    return [{"label": label, "score": score} for label, score in ranked]
