"""Multi-view open-vocabulary evaluation of a video-text model on `datasets.Dataset`s and whole protocols.

Scoring: every video is cut into V = num_clips * num_crops views by the processor; each view gets the scaled
logits of the model's scoring head; the views are combined as the model's method does in its official test script
(`VideoClipConfig.view_pooling`, `combine_view_logits`): the softmax of the view-averaged logits (Open-VCLIP,
FROSTER) or the mean of the views' softmax (ViFi-CLIP, OST). `EvalOutput.scores` are those probabilities,
`EvalOutput.logits` the view-averaged logits.

Class texts are the dataset vocabulary ``dataset.features["label"].names`` filled into the prompt templates and
embedded once per vocabulary (`class_text_embeddings`).

Extra metrics come from the protocol (`hfvideoclip.data.ProtocolData`): ``metric_columns`` give
``<column>_top1`` (right attribute, e.g. ``shape_top1``), ``group_column`` gives ``top1_<group>`` (e.g.
``top1_direction_free``) and ``partner_classes`` give ``pair_vs_partner`` (an action against its reverse). Under
several processes (``accelerate launch``) every process scores a contiguous shard of the videos (`shard_range`)
and the logits are gathered, so each returns the whole `EvalOutput` in order.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data.collator import VideoClipCollator
from ..data.video_column import video_path
from ..data.workers import resolve_num_workers
from ..models.video_clip.class_banks import model_device
from ..models.video_clip.modeling_video_clip import combine_view_logits
from ..text.class_embeddings import class_bank
from ..text.templates import KINETICS_TEMPLATES
from .metrics import harmonic_mean, mean_std, per_class_accuracy, topk_accuracy

_DEFAULT_MEAN = (0.48145466, 0.4578275, 0.40821073)
_DEFAULT_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class MisclassifiedExample:
    """A wrongly classified video kept for plotting: the frames of its first view and its top predictions."""

    video_path: str
    frames: torch.Tensor
    """uint8 (T, S, S, 3): the first preprocessed view, un-normalised."""
    label: int
    top_indices: list[int]
    top_scores: list[float]


@dataclass
class EvalOutput:
    """Scores of one dataset against its own vocabulary.

    Attributes:
        scores: (num_videos, num_classes) softmax over the classes of the view-averaged logits.
        labels: (num_videos,) true class indices.
        class_names: the vocabulary, `dataset.features["label"].names`.
        video_paths: the `video` column, in order.
        logits: (num_videos, num_classes) view-averaged scaled cosine logits.
        groups: per-video values of the protocol's `group_column` (e.g. "direction-free"/"direction-pair"), or
            None; each value gives ``top1_<value>``.
        examples: a few misclassified videos (frames and top-3 predictions) for plots.
    """

    scores: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    video_paths: list[str]
    logits: torch.Tensor | None = None
    groups: list[str] | None = None
    examples: list[MisclassifiedExample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """`"path: cause"` of the videos left out because they could not be decoded (`bad_video="skip"`)."""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    """Per-video values of the protocol's `metric_columns` (column -> num_videos values): when every class has one
    value of a column and the classes differ in it, ``<column>_top1`` is how often the top-1 class has the true
    class's value (the right shape with the wrong motion)."""
    partners: dict[int, int] = field(default_factory=dict)
    """Class index -> index of its reversed partner class (`ProtocolData.partner_classes`, both in the vocabulary):
    gives ``pair_vs_partner``."""

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """``{prefix}top1``, ``{prefix}top5`` (top-min(5, C)), ``{prefix}top1_<group>`` per group value and
        ``{prefix}<column>_top1`` per attribute column, in [0, 1]."""
        out = {f"{prefix}top1": topk_accuracy(self.scores, self.labels, 1),
               f"{prefix}top5": topk_accuracy(self.scores, self.labels, 5)}
        if self.groups is not None:
            for group in sorted(set(self.groups)):
                rows = torch.tensor([g == group for g in self.groups])
                out[f"{prefix}top1_{metric_suffix(group)}"] = topk_accuracy(self.scores[rows], self.labels[rows], 1)
        for column, values in self.attributes.items():
            accuracy = attribute_accuracy(self.scores, self.labels, values)
            if accuracy is not None:
                out[f"{prefix}{column}_top1"] = accuracy
        versus = pair_vs_partner(self.logits if self.logits is not None else self.scores, self.labels, self.partners)
        if versus is not None:
            out[f"{prefix}pair_vs_partner"] = versus
        return out

    def per_class_accuracy(self) -> torch.Tensor:
        """Top-1 accuracy per class (num_classes,), NaN for classes without videos."""
        return per_class_accuracy(self.scores, self.labels, len(self.class_names))


def attribute_accuracy(scores: torch.Tensor, labels: torch.Tensor, values: Sequence[str]) -> float | None:
    """Fraction of videos whose top-1 class has the same attribute value as the video.

    scores: (N, C); labels: (N,); values: the attribute of each of the N videos. A class takes the value of its
    videos. Returns None when the attribute does not tell classes apart: a class whose videos disagree, or a
    class predicted without videos, or one value for every class.
    """
    class_value: dict[int, str] = {}
    for label, value in zip(labels.tolist(), values):
        if class_value.setdefault(label, value) != value:
            return None
    if len(set(class_value.values())) < 2:
        return None
    predicted = scores.argmax(dim=-1).tolist()
    if any(p not in class_value for p in predicted):
        return None
    return sum(class_value[p] == v for p, v in zip(predicted, values)) / len(values)


def pair_vs_partner(scores: torch.Tensor, labels: torch.Tensor, partners: Mapping[int, int]) -> float | None:
    """Fraction of the videos of partnered classes that score their own class above its partner (a two-way choice
    between an action and its reverse; ties count as wrong). scores: (N, C); labels: (N,); partners: class index ->
    partner index. None when no video belongs to a partnered class."""
    rows = [row for row, label in enumerate(labels.tolist()) if label in partners]
    if not rows:
        return None
    own = labels[rows]
    other = torch.tensor([partners[label] for label in own.tolist()])
    picked = scores[rows]
    return (picked.gather(1, own[:, None]) > picked.gather(1, other[:, None])).float().mean().item()


def partner_indices(class_names: Sequence[str], partner_classes: Mapping[str, str] | None) -> dict[int, int]:
    """`ProtocolData.partner_classes` as vocabulary indices, for the classes whose partner is also in it."""
    index = {name: i for i, name in enumerate(class_names)}
    return {index[name]: index[partner] for name, partner in (partner_classes or {}).items()
            if name in index and partner in index}


def metric_suffix(value: str) -> str:
    """``"direction-pair"`` -> ``"direction_pair"``: a metadata value as a metric-name suffix."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(value)).strip("_").lower()


# ---------------------------------------------------------------------------------------------------- sharding
def shard_range(num_items: int, process_index: int, num_processes: int) -> range:
    """The contiguous rows ``[i * n // p, (i + 1) * n // p)`` process ``i`` of ``p`` scores: the shards of ranks
    0..p-1 concatenate to ``range(n)`` in order and differ in size by at most one (a shard may be empty)."""
    if num_processes < 1 or not 0 <= process_index < num_processes:
        raise ValueError(f"process_index={process_index} must be in [0, num_processes={num_processes}).")
    return range(process_index * num_items // num_processes, (process_index + 1) * num_items // num_processes)


def _process_layout(distributed: bool | None) -> tuple[int, int]:
    """(process_index, num_processes) of the torch.distributed process group to shard over; (0, 1) when
    ``distributed`` is False or no group is up. True sets the group up with `accelerate.PartialState` if needed."""
    if distributed is False:
        return 0, 1
    import torch.distributed as dist

    if distributed and dist.is_available() and not dist.is_initialized():
        from accelerate import PartialState

        PartialState()  # under `accelerate launch` this initialises the process group
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather(value, num_processes: int) -> list:
    """``[value of rank 0, value of rank 1, ...]`` on every process (one picklable object per process)."""
    if num_processes == 1:
        return [value]
    gathered = [None] * num_processes
    torch.distributed.all_gather_object(gathered, value)
    return gathered


def _pick_examples(candidates: Sequence[MisclassifiedExample], keep: int) -> list[MisclassifiedExample]:
    """Up to `keep` examples: the first of each true class first, then the others, in order."""
    first: list[MisclassifiedExample] = []
    others: list[MisclassifiedExample] = []
    for example in candidates:
        (first if example.label not in {e.label for e in first} else others).append(example)
    return (first + others)[:keep]


# ---------------------------------------------------------------------------------------------------- helpers
def _logit_scale(model) -> float:
    """`exp(logit_scale)` of a model without a scoring head (1.0 without `logit_scale`)."""
    scale = getattr(model, "logit_scale", None)
    if scale is None:
        return 1.0
    return math.exp(float(torch.as_tensor(scale).detach().float()))


def _video_features(model, pixel_values_videos: torch.Tensor) -> torch.Tensor:
    output = model.get_video_features(pixel_values_videos=pixel_values_videos)
    if isinstance(output, tuple):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        output = getattr(output, "pooler_output", output)
    return output


def _dataset_vocabulary(dataset, where: str) -> list[str]:
    features = getattr(dataset, "features", None)
    label_feature = features.get("label") if features is not None else None
    names = getattr(label_feature, "names", None)
    if not names:
        raise ValueError(f"{where}: the dataset needs a `label` column of type datasets.ClassLabel whose `names` are "
                         f"the class names (the vocabulary); got features {features!r}.")
    if "video" not in dataset.column_names:
        raise ValueError(f"{where}: the dataset needs a `video` column of video file paths; it has columns "
                         f"{dataset.column_names}.")
    return list(names)


def _frames_to_uint8(view: torch.Tensor, processor) -> torch.Tensor:
    """Normalised float (T, 3, S, S) -> uint8 (T, S, S, 3) using the processor's mean/std (min-max otherwise)."""
    video_processor = getattr(processor, "video_processor", None)
    mean = getattr(video_processor, "image_mean", None)
    std = getattr(video_processor, "image_std", None)
    view = view.detach().float().cpu()
    if mean is not None and std is not None:
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        pixels = (view * std_t + mean_t).clamp(0, 1) * 255
    else:
        low, high = view.min(), view.max()
        pixels = (view - low) / (high - low).clamp(min=1e-8) * 255
    return pixels.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _with_num_frames(processor, num_frames: int | None):
    """A shallow copy of `processor` whose video processor samples `num_frames` frames per clip."""
    if num_frames is None:
        return processor
    video_processor = getattr(processor, "video_processor", None)
    if video_processor is None or not hasattr(video_processor, "num_frames"):
        raise ValueError(f"num_frames={num_frames} was given but the processor ({type(processor).__name__}) has no "
                         "`video_processor.num_frames` to set; leave num_frames=None.")
    if video_processor.num_frames == num_frames:
        return processor
    processor = copy.copy(processor)
    processor.video_processor = copy.copy(video_processor)
    processor.video_processor.num_frames = int(num_frames)
    return processor


# ---------------------------------------------------------------------------------------------------- datasets
@torch.no_grad()
def evaluate_dataset(model, processor, dataset, *, templates: Sequence[str] | str = KINETICS_TEMPLATES,
                     num_clips: int = 1, num_crops: int = 1, batch_size: int = 8, num_frames: int | None = None,
                     progress: bool = True, device: torch.device | str | None = None,
                     text_embeds: torch.Tensor | None = None, num_workers: int | None = None, keep_examples: int = 4,
                     desc: str | None = None, metric_columns: Sequence[str] = (), group_column: str | None = None,
                     partner_classes: Mapping[str, str] | None = None, distributed: bool | None = None,
                     bad_video: str = "raise", view_pooling: str | None = None,
                     class_descriptions=None) -> EvalOutput:
    """Score every video of `dataset` against the dataset's vocabulary.

    Args:
        model: exposes `get_video_features(pixel_values_videos=...)`, `get_text_features(input_ids=...,
            attention_mask=...)` and `logit_scale` (log scale; `exp` is clamped at 100).
        processor: `processor(videos=[paths], num_clips=, num_crops=, return_tensors="pt")["pixel_values_videos"]`
            of shape (B * V, T, 3, S, S), the V = num_clips * num_crops views of each video contiguous;
            `processor.tokenizer` embeds the class texts.
        dataset: a `datasets.Dataset` with a `video` column (file paths) and a `label` ClassLabel column.
        templates: prompt templates for the class names.
        num_clips, num_crops: test views per video, combined by `view_pooling`.
        batch_size: videos per forward pass.
        num_frames: frames per clip (default: the processor's `video_processor.num_frames`).
        progress: show a tqdm bar counting videos.
        device: where the model runs (default: the model's device).
        text_embeds: precomputed L2-normalised class embeddings (num_classes, D) to skip the text tower.
        num_workers: DataLoader workers that decode and preprocess batches (0: in the main process; None: the
            cores this process may use, `hfvideoclip.data.workers.default_num_workers`).
        keep_examples: how many misclassified videos to keep for plots (one per true class first).
        desc: label of the progress bar.
        metric_columns: metadata columns giving ``<column>_top1`` (`EvalOutput.attributes`), where present.
        group_column: metadata column giving ``top1_<value>`` per value (`EvalOutput.groups`), where present.
        partner_classes: class name -> its reversed partner (`ProtocolData.partner_classes`): gives
            ``pair_vs_partner`` (`EvalOutput.partners`).
        distributed: shard the videos over processes and gather the logits (every process must call this and
            gets the whole output). None: when a torch.distributed process group is up; False: never.
        view_pooling: how the views combine (`combine_view_logits`): `"logits"` or `"probabilities"`; None: the
            model's `config.view_pooling` (`"logits"` for a model without one).
        class_descriptions: FROSTER-format rephrased descriptions (a path or `read_class_descriptions`'s files): the
            class texts become FROSTER's test prompts (`text.class_embeddings.description_class_embeddings`).
    """
    class_names = _dataset_vocabulary(dataset, desc or "evaluate_dataset")
    if view_pooling not in (None, "logits", "probabilities"):
        raise ValueError(f"view_pooling={view_pooling!r} is not supported; use 'logits' or 'probabilities'.")
    if num_clips < 1 or num_crops < 1:
        raise ValueError(f"num_clips and num_crops must be >= 1, got num_clips={num_clips}, num_crops={num_crops}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if len(dataset) == 0:
        raise ValueError(f"{desc or 'evaluate_dataset'}: the dataset is empty; there are no videos to score.")
    device = torch.device(device) if device is not None else model_device(model)
    processor = _with_num_frames(processor, num_frames)
    views = num_clips * num_crops

    if text_embeds is None:
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None:
            raise ValueError("The processor has no `tokenizer` to embed the class names; pass `text_embeds` or a "
                             "processor with a tokenizer.")
        text_embeds = class_bank(model, tokenizer, class_names, templates, device=device,
                                 class_descriptions=class_descriptions)
    if isinstance(text_embeds, torch.Tensor) and getattr(model, "class_bank_keeps_norm", False):
        text_embeds = text_embeds.detach().float().to(device)  # X-CLIP: its prompt generator reads their scale
    elif isinstance(text_embeds, torch.Tensor):
        text_embeds = F.normalize(text_embeds.detach().float().to(device), dim=-1)
    else:  # a descriptor bank (OST head): unit-norm already
        text_embeds = text_embeds.detach().float().to(device)
    if text_embeds.shape[0] != len(class_names):
        raise ValueError(f"text_embeds has {text_embeds.shape[0]} rows but the dataset vocabulary has "
                         f"{len(class_names)} classes.")

    was_training = bool(getattr(model, "training", False))
    if was_training and hasattr(model, "eval"):
        model.eval()
    dtype = getattr(model, "dtype", None)
    scale = _logit_scale(model)

    videos = list(dataset["video"])  # paths or datasets.Video(decode=False) values ({"path", "bytes"})
    paths = [video_path(video) or str(video) for video in videos]
    labels_all = [int(label) for label in dataset["label"]]
    groups = ([str(value) for value in dataset[group_column]]
              if group_column is not None and group_column in dataset.column_names else None)
    attributes = {column: [str(value) for value in dataset[column]] for column in metric_columns
                  if column in dataset.column_names}
    if view_pooling is None:  # the model's own (VideoClipConfig.view_pooling); other models: logits averaged
        view_pooling = getattr(getattr(model, "config", None), "view_pooling", None) or "logits"
    rank, world = _process_layout(distributed)
    shard = shard_range(len(paths), rank, world)
    # A datasets.Video value with embedded bytes is decoded from them; any other video from its path.
    rows = [{"video": video if isinstance(video, dict) and video.get("bytes") else path, "label": label}
            for video, path, label in zip(videos[shard.start:shard.stop], paths[shard.start:shard.stop],
                                          labels_all[shard.start:shard.stop])]
    # The one collator of training and evaluation, in its deterministic mode (segment centres, centre/3 crops).
    # Views in the model's dtype when it is 16-bit (it casts them anyway): half the bytes from the workers and to
    # the device, the same logits.
    pixel_dtype = dtype if dtype in (torch.bfloat16, torch.float16) else torch.float32
    collator = VideoClipCollator(processor, num_clips=num_clips, num_crops=num_crops, return_paths=True,
                                 bad_video=bad_video, pixel_dtype=pixel_dtype)
    num_workers = resolve_num_workers(num_workers, math.ceil(len(rows) / max(batch_size, 1)))
    loader = DataLoader(rows, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collator,
                        pin_memory=device.type == "cuda")  # pinned batches: full-speed copies to a GPU

    kept_rows: list[int] = []  # indices (in the dataset) of the videos scored; skipped ones are left out
    skipped: list[str] = []
    offset = shard.start
    all_logits, all_scores, all_labels = [], [], []
    first_per_class: list[MisclassifiedExample] = []
    others: list[MisclassifiedExample] = []
    bar = tqdm(total=len(shard), desc=desc or "evaluating", unit="video", disable=not progress or rank != 0)
    try:
        for batch in loader:
            pixels, labels, batch_paths = batch["pixel_values_videos"], batch["labels"], batch["video_paths"]
            batch_skipped = batch.get("skipped_videos") or []
            collator.log_skipped(batch)  # batches from DataLoader workers: each bad file logged here, once
            count = len(batch_paths) + len(batch_skipped)
            kept_rows.extend(_kept_positions(paths[offset:offset + count], batch_paths, offset))
            offset += count
            skipped.extend(batch_skipped)
            bar.update(len(batch_skipped))
            if pixels is None:  # every video of the batch was skipped
                continue
            if pixels.shape[0] != len(batch_paths) * views:
                raise ValueError(f"The processor returned {pixels.shape[0]} views for {len(batch_paths)} videos; "
                                 f"expected {len(batch_paths) * views} (num_clips={num_clips} x num_crops={num_crops} "
                                 "per video).")
            model_pixels = pixels.to(device=device, dtype=dtype if isinstance(dtype, torch.dtype) else None)
            if hasattr(model, "compute_logits"):  # the model's scoring head (VideoClipModel)
                video, frames = model.get_video_features(pixel_values_videos=model_pixels, return_frame_embeds=True)
                logits = model.compute_logits(video, text_embeds, frame_embeds=frames).float()
            else:
                video = _video_features(model, model_pixels)
                logits = scale * F.normalize(video.float(), dim=-1) @ text_embeds.t()
            view_logits = logits.view(len(batch_paths), views, -1).cpu()
            probs = combine_view_logits(view_logits, view_pooling)
            all_logits.append(view_logits.mean(dim=1))
            all_scores.append(probs)
            all_labels.append(labels)
            if keep_examples > 0 and len(first_per_class) < keep_examples:
                for row in range(len(batch_paths)):
                    label = int(labels[row])
                    if (probs[row] >= probs[row, label]).sum() == 1:  # correct (ties count as wrong)
                        continue
                    top = probs[row].topk(min(3, probs.shape[1]))
                    seen = {example.label for example in first_per_class}
                    bucket = first_per_class if label not in seen else others
                    if len(bucket) >= keep_examples:
                        continue
                    bucket.append(MisclassifiedExample(
                        video_path=batch_paths[row], frames=_frames_to_uint8(pixels[row * views], processor),
                        label=label, top_indices=[int(i) for i in top.indices], top_scores=[float(s) for s in top.values]))
            bar.update(len(batch_paths))
    finally:
        bar.close()
        if was_training and hasattr(model, "train"):
            model.train()

    logits = torch.cat(all_logits) if all_logits else torch.zeros(0, len(class_names))
    scores = torch.cat(all_scores) if all_scores else torch.zeros(0, len(class_names))
    labels = torch.cat(all_labels) if all_labels else torch.zeros(0, dtype=torch.long)
    shards = _gather((logits, labels, first_per_class + others, kept_rows, skipped, scores), world)  # rank order
    logits = torch.cat([part[0] for part in shards])
    scores = torch.cat([part[5] for part in shards])
    kept = [index for part in shards for index in part[3]]
    if len(kept) != len(paths):  # some videos were skipped: keep the per-video columns aligned with the scores
        paths = [paths[i] for i in kept]
        groups = None if groups is None else [groups[i] for i in kept]
        attributes = {column: [values[i] for i in kept] for column, values in attributes.items()}
    return EvalOutput(scores=scores, labels=torch.cat([part[1] for part in shards]),
                      class_names=class_names, video_paths=paths, logits=logits, groups=groups,
                      attributes=attributes, partners=partner_indices(class_names, partner_classes),
                      examples=_pick_examples([e for part in shards for e in part[2]], keep_examples),
                      skipped=[entry for part in shards for entry in part[4]])


def _kept_positions(batch_paths: Sequence[str], kept_paths: Sequence, offset: int) -> list[int]:
    """Dataset indices of the videos a batch kept, matching its kept paths in order (a skipped video is absent)."""
    positions, next_kept = [], 0
    for position, path in enumerate(batch_paths):
        if next_kept < len(kept_paths) and str(kept_paths[next_kept]) == str(path):
            positions.append(offset + position)
            next_kept += 1
    return positions


# ---------------------------------------------------------------------------------------------------- protocols
def split_metrics(outputs: Mapping[str, EvalOutput]) -> dict[str, float]:
    """Metrics of one split from its evaluation sets.

    Eval sets ``base`` and ``novel`` give ``base_top1``, ``novel_top1``, ``hm`` (harmonic mean of the two top-1),
    ``base_top5``, ``novel_top5`` (+ ``<set>_top1_<group>``, ``<set>_<column>_top1``). A single eval set, or one
    named ``test``, gives unprefixed ``top1``, ``top5`` (+ ``top1_<group>``, ``<column>_top1``); any other set
    ``name`` gives ``name_top1``, ...; a group column with values ``in`` and ``out`` (the ``ooc-*`` protocols)
    also gives ``hm``, their harmonic mean (Open-MeDe's in-context / out-of-context HM).
    """
    if not outputs:
        raise ValueError("split_metrics got no evaluation sets.")
    metrics: dict[str, float] = {}
    single = len(outputs) == 1
    for name, output in outputs.items():
        prefix = "" if single or name == "test" else f"{metric_suffix(name)}_"
        metrics.update(output.metrics(prefix))
    if "base" in outputs and "novel" in outputs:
        metrics = {"base_top1": metrics["base_top1"], "novel_top1": metrics["novel_top1"],
                   "hm": harmonic_mean(metrics["base_top1"], metrics["novel_top1"]), **metrics}
    if "top1_in" in metrics and "top1_out" in metrics:  # out-of-context protocols (group column `context`)
        metrics = {"top1_in": metrics["top1_in"], "top1_out": metrics["top1_out"],
                   "hm": harmonic_mean(metrics["top1_in"], metrics["top1_out"]), **metrics}
    return metrics


def aggregate_metrics(per_split: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean over splits of each metric, then ``<metric>_std`` for each (sample std, ddof=1; 0.0 for one split).
    A metric missing from some splits is averaged over the splits that have it."""
    if not per_split:
        raise ValueError("aggregate_metrics got no splits.")
    names: list[str] = []
    for metrics in per_split:
        names.extend(name for name in metrics if name not in names)
    means, stds = {}, {}
    for name in names:
        mean, std = mean_std([metrics[name] for metrics in per_split if name in metrics])
        means[name] = mean
        stds[f"{name}_std"] = std
    return {**means, **stds}


def _split_eval_sets(split) -> Mapping[str, Any]:
    eval_sets = getattr(split, "eval", None)
    if eval_sets is None and isinstance(split, Mapping):
        eval_sets = split.get("eval")
    if not isinstance(eval_sets, Mapping) or not eval_sets:
        raise ValueError(f"Protocol split {getattr(split, 'name', split)!r} has no `eval` datasets: expected a dict like "
                         "{'test': Dataset} or {'base': Dataset, 'novel': Dataset}.")
    return eval_sets


def plot_file_name(split_name: str) -> str:
    """File name of a split's figure in the output directory: ``plot_<split>.png``."""
    return f"plot_{metric_suffix(split_name) or 'split'}.png"


def evaluate_protocol(model, processor, protocol_data, *, output_dir: str | Path | None = None, model_name: str = "",
                      templates: Sequence[str] | str = KINETICS_TEMPLATES, num_clips: int = 1, num_crops: int = 1,
                      batch_size: int = 8, num_frames: int | None = None, progress: bool = True, plot: bool = True,
                      device: torch.device | str | None = None, num_workers: int | None = None,
                      distributed: bool | None = None, bad_video: str = "raise", class_descriptions=None) -> dict:
    """Evaluate every split of a protocol and return the results dict (the `results.json` format of `evaluation.results`):

    ``{"protocol": str, "model": str, "metrics": {...}, "per_split": [{"split": str, "metrics": {...}}]}``

    Per split: `split_metrics` (``base_top1``, ``novel_top1``, ``hm``, ... or ``top1``, ``top5``, ...). Aggregate
    ``metrics``: the mean over splits of each metric plus ``<metric>_std`` (sample std over splits). Fractions in
    [0, 1]. Class embeddings are computed once per vocabulary. With `output_dir`: writes ``results.json``,
    ``results.md`` and, if `plot`, one ``plot_<split>.png`` per split (per-class accuracy + misclassified videos).

    `protocol_data` (a `hfvideoclip.data.ProtocolData`) has ``name`` and ``splits``; each split has ``name`` and
    ``eval`` (dict of datasets). Its ``metric_columns``, ``group_column`` and ``partner_classes`` (absent: none) add
    ``<column>_top1``, ``top1_<group>`` and ``pair_vs_partner`` metrics. Under several processes (`distributed`, see
    `evaluate_dataset`) every process must call this; all return the results, the main process alone writes files.
    `class_descriptions` (``--class_descriptions``: a path, or `read_class_descriptions`'s files): class texts from
    FROSTER-format rephrased descriptions, matched to each vocabulary (`text.class_embeddings.class_bank`).
    """
    if class_descriptions is not None:
        from ..text.class_descriptions import read_class_descriptions

        class_descriptions = read_class_descriptions(class_descriptions)  # read once for every vocabulary
    from .results import write_results

    splits = list(getattr(protocol_data, "splits", None) or [])
    protocol_name = str(getattr(protocol_data, "name", "") or "")
    if not splits:
        raise ValueError(f"Protocol {protocol_name!r} has no splits to evaluate.")
    metric_columns = tuple(getattr(protocol_data, "metric_columns", None) or ())
    group_column = getattr(protocol_data, "group_column", None)
    partner_classes = getattr(protocol_data, "partner_classes", None)
    if _process_layout(distributed)[0] != 0:
        output_dir = None  # the main process writes the files
    output_path = Path(output_dir) if output_dir is not None else None
    if output_path is not None:
        output_path.mkdir(parents=True, exist_ok=True)
    device = torch.device(device) if device is not None else model_device(model)
    text_cache: dict[tuple[str, ...], torch.Tensor] = {}

    skipped: list[str] = []
    per_split = []
    for index, split in enumerate(splits):
        split_name = str(getattr(split, "name", None) or f"split{index}")
        outputs: dict[str, EvalOutput] = {}
        for set_name, dataset in _split_eval_sets(split).items():
            where = f"{protocol_name}/{split_name}/{set_name}"
            vocabulary = tuple(_dataset_vocabulary(dataset, where))
            if vocabulary not in text_cache:
                tokenizer = getattr(processor, "tokenizer", None)
                if tokenizer is None:
                    raise ValueError("The processor has no `tokenizer` to embed the class names.")
                text_cache[vocabulary] = class_bank(model, tokenizer, vocabulary, templates, device=device,
                                                    class_descriptions=class_descriptions)
            outputs[set_name] = evaluate_dataset(
                model, processor, dataset, templates=templates, num_clips=num_clips, num_crops=num_crops,
                batch_size=batch_size, num_frames=num_frames, progress=progress, device=device,
                text_embeds=text_cache[vocabulary], num_workers=num_workers, desc=where,
                metric_columns=metric_columns, group_column=group_column, partner_classes=partner_classes,
                distributed=distributed,
                bad_video=bad_video)
            skipped.extend(outputs[set_name].skipped)
        num_classes = {("" if len(outputs) == 1 or name == "test" else metric_suffix(name)): len(output.class_names)
                       for name, output in outputs.items()}  # per metric prefix: results.md drops a top-5 of <= 5
        per_split.append({"split": split_name, "metrics": split_metrics(outputs), "num_classes": num_classes})
        if output_path is not None and plot:
            from .plots import plot_split

            plot_split(outputs, output_path / plot_file_name(split_name),
                       title=f"{protocol_name} / {split_name} - {model_name}".strip(" -"))

    results = {"protocol": protocol_name, "model": str(model_name),
               "metrics": aggregate_metrics([entry["metrics"] for entry in per_split]), "per_split": per_split}
    if bad_video == "skip":  # the results say how many videos were left out, and which
        results["skipped_videos"] = len(skipped)
        results["skipped"] = skipped
    if output_path is not None:
        write_results(results, output_path)
    return results


__all__ = ["EvalOutput", "MisclassifiedExample", "aggregate_metrics", "attribute_accuracy", "evaluate_dataset",
           "evaluate_protocol", "metric_suffix", "plot_file_name", "shard_range", "split_metrics"]
