"""`VideoClipCollator`: rows of (video, label) -> `pixel_values_videos` and `labels`, for training and evaluation.

One collator for both: training samples a random frame inside each segment and augments every clip with
`augment.augment_clip`; evaluation takes the segment centres and the centre crop (or 3 crops), with
`num_clips` temporal views. Decoding happens here, so in the DataLoader's workers.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import get_worker_info

from ..errors import VideoDecodingError
from .augment import AugmentationConfig, augmented_view
from .video_column import video_path

logger = logging.getLogger(__name__)


class VideoClipCollator:
    """Batches rows `{"video": path, "label": int}` (or `(path, label)` tuples) into model inputs.

    Training: temporal jitter and `augment_clip`, seeded per batch by (`seed`, `process_index`, epoch, the batch's
    rows), so a resume replays it whatever the number of workers; evaluation: the processor's deterministic views.
    Decoding errors raise `VideoDecodingError` naming the video. Sampling, randomness, the epoch in persistent
    workers, `pixel_dtype` and `bad_video` in detail: docs/data.md ("From videos to batches: the collator").

    Args:
        video_processor: a `VideoClipVideoProcessor` (or `VideoClipProcessor`); evaluation also takes any callable
            `video_processor(videos=[...], num_clips=, num_crops=)` returning the pixels or a mapping with them.
        train: training sampling and augmentation instead of the deterministic test views.
        augmentation: the spatial augmentation when training (default `AugmentationConfig()`); an error otherwise.
        seed, process_index: base seed and process rank of the training randomness.
        num_clips: temporal views per video.
        num_crops: spatial views per clip at evaluation (1 or 3); 1 in training.
        video_column, label_column: keys of the rows when they are mappings.
        return_paths: add `"video_paths"` (the B videos as given, as `str`).
        bad_video: `"raise"` or `"skip"` (left out, logged once; the batch gains `"skipped_videos"` and
            `"skipped_paths"`; training repeats a decoded video of the batch to keep its size).
        pixel_dtype: dtype of `pixel_values_videos` (under bf16/fp16 the autocast dtype: same outputs, half the
            bytes).

    Returns (from `__call__`):
        `{"pixel_values_videos": float (B * V, T, 3, S, S), "labels": long (B,)}`, the V views of each video
        contiguous (clip-major, then crop); V = `num_clips` in training, `num_clips * num_crops` at evaluation.
    """

    def __init__(self, video_processor, train: bool = False, augmentation: AugmentationConfig | None = None,
                 seed: int = 0, process_index: int = 0, num_clips: int = 1, num_crops: int = 1,
                 video_column: str = "video", label_column: str = "label", return_paths: bool = False,
                 bad_video: str = "raise", pixel_dtype: torch.dtype = torch.float32):
        if video_processor is None or not callable(video_processor):
            raise TypeError(f"`video_processor` must be a callable video processor (e.g. VideoClipVideoProcessor), "
                            f"got {type(video_processor).__name__}.")
        for name, value in (("seed", seed), ("process_index", process_index), ("num_clips", num_clips),
                            ("num_crops", num_crops)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"`{name}` must be an int, got {type(value).__name__} ({value!r}).")
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}.")
        if num_crops < 1:
            raise ValueError(f"num_crops must be >= 1 (VideoClipVideoProcessor: 1 for the centre crop, 3 for three "
                             f"crops along the long side), got {num_crops}.")
        if process_index < 0:
            raise ValueError(f"process_index must be >= 0 (the rank of this process), got {process_index}.")
        if train and num_crops != 1:
            raise ValueError(f"num_crops={num_crops} with train=True: training takes one augmented view per clip "
                             "(crops are a test-time view); pass num_crops=1, or num_clips for more views.")
        if not train and augmentation is not None:
            raise ValueError("`augmentation` was given with train=False: evaluation views are not augmented; pass "
                             "train=True or drop `augmentation`.")
        if augmentation is not None and not isinstance(augmentation, AugmentationConfig):
            raise TypeError(f"`augmentation` must be an AugmentationConfig, got {type(augmentation).__name__}.")
        if bad_video not in ("raise", "skip"):
            raise ValueError(f"bad_video must be 'raise' or 'skip', got {bad_video!r}.")
        if not isinstance(pixel_dtype, torch.dtype) or not pixel_dtype.is_floating_point:
            raise TypeError(f"`pixel_dtype` must be a floating torch.dtype (torch.float32, torch.bfloat16, "
                            f"torch.float16), got {pixel_dtype!r}.")
        self.pixel_dtype = pixel_dtype
        self.bad_video = bad_video
        self._reported: set[str] = set()
        self.video_processor = video_processor
        self.train = bool(train)
        self.augmentation = (augmentation if augmentation is not None else AugmentationConfig()) if train else None
        self.seed = seed
        self.process_index = process_index
        self.num_clips = num_clips
        self.num_crops = num_crops
        self.video_column = video_column
        self.label_column = label_column
        self.return_paths = bool(return_paths)
        # A 0-dim int64 tensor in shared memory: persistent DataLoader workers see `set_epoch` (class docstring).
        self._shared_epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        """The epoch that seeds the training randomness (set with `set_epoch`)."""
        return int(self._shared_epoch)

    @property
    def views_per_video(self) -> int:
        return self.num_clips * self.num_crops

    def set_epoch(self, epoch: int | float) -> None:
        """Set the epoch that seeds the training randomness; called by the trainer when each epoch begins.
        A float (`TrainerState.epoch`, fractional after resuming mid-epoch) is floored."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch) or epoch < 0:
            raise ValueError(f"epoch must be a number >= 0, got {epoch!r}.")
        self._shared_epoch.fill_(int(math.floor(epoch)))

    # ---------------------------------------------------------------- rows
    def _split(self, rows) -> tuple[list[Any], list[int]]:
        if isinstance(rows, Mapping) or not isinstance(rows, Sequence) or len(rows) == 0:
            raise ValueError(f"VideoClipCollator expects a non-empty list of rows, got {type(rows).__name__}"
                             f"{'' if not isinstance(rows, Sequence) else f' of length {len(rows)}'}.")
        videos, labels = [], []
        for i, row in enumerate(rows):
            if isinstance(row, Mapping):
                missing = [key for key in (self.video_column, self.label_column) if key not in row]
                if missing:
                    raise KeyError(f"Row {i} has no {' or '.join(repr(m) for m in missing)} column (it has "
                                   f"{sorted(row)}); set video_column= / label_column= to the dataset's names.")
                video, label = row[self.video_column], row[self.label_column]
            elif isinstance(row, Sequence) and not isinstance(row, (str, bytes)) and len(row) == 2:
                video, label = row
            else:
                raise ValueError(f"Row {i} must be a mapping with {self.video_column!r} and {self.label_column!r} "
                                 f"or a (video, label) pair, got {type(row).__name__}.")
            if isinstance(label, torch.Tensor):
                label = label.item()
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
                raise ValueError(f"Row {i} ({_describe(video)}): the label must be an int class index, got "
                                 f"{label!r}.")
            videos.append(video)
            labels.append(int(label))
        return videos, labels

    def batch_seed(self, rows) -> int:
        """The seed of the training generator for `rows`: a stable hash (blake2b, the same in every process and
        Python run) of (seed, process_index, epoch, each row's video and label, in order)."""
        videos, labels = self._split(rows)
        return self._seed(videos, labels)

    def _seed(self, videos: list[Any], labels: list[int]) -> int:
        digest = hashlib.blake2b(digest_size=8)
        digest.update(f"VideoClipCollator|{self.seed}|{self.process_index}|{self.epoch}|{len(videos)}".encode())
        for video, label in zip(videos, labels):
            digest.update(b"|" + _video_key(video) + b"|" + str(label).encode())
        return int.from_bytes(digest.digest(), "little") & (2**63 - 1)

    # ---------------------------------------------------------------- batching
    def __call__(self, rows) -> dict[str, Any]:
        videos, labels = self._split(rows)
        generator = None
        if self.train:
            generator = torch.Generator().manual_seed(self._seed(videos, labels))
        pixels, kept, skipped, skipped_paths, failed = [], [], [], [], []
        for position, video in enumerate(videos):
            try:
                if self.train:
                    clips = self.video_processor.load_clips(video, num_clips=self.num_clips, train=True,
                                                            generator=generator)
                    out = {"pixel_values_videos": torch.cat(
                        [augmented_view(self.video_processor, clip, self.augmentation, generator) for clip in clips])}
                else:
                    out = self.video_processor(videos=[video], num_clips=self.num_clips, num_crops=self.num_crops)
            except VideoDecodingError as error:
                shown = video_path(video) or _describe(video)  # a path, or a datasets.Video value's path
                named = error if str(shown) in str(error) else VideoDecodingError(
                    f"{error} (video: {_describe(video)})")
                if self.bad_video == "skip":
                    skipped.append(self._report_skip(shown, named))
                    skipped_paths.append(str(shown))
                else:
                    failed.append((str(shown), named, error))  # go on: the error names every bad video of the batch
                continue
            except Exception as error:
                if hasattr(error, "add_note"):  # Python >= 3.11: the traceback names the video
                    error.add_note(f"VideoClipCollator: while processing video {_describe(video)}")
                raise
            if isinstance(out, Mapping):
                out = out["pixel_values_videos"]
            if not isinstance(out, torch.Tensor) or out.ndim != 5 or out.shape[0] != self.views_per_video:
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"The video processor returned {shape} for {_describe(video)}; expected "
                                 f"({self.views_per_video}, T, 3, S, S): num_clips={self.num_clips} x "
                                 f"num_crops={self.num_crops} views.")
            pixels.append(out)
            kept.append(position)
        if failed:
            raise _decoding_failure(failed, len(videos))
        if skipped and self.train:  # keep the batch size: repeat decoded videos of this batch in the failed slots
            if not kept:
                raise VideoDecodingError(f"Every video of a training batch failed to decode ({'; '.join(skipped)}); "
                                         "check the data with `hfvideoclip data check`.")
            decoded = list(zip(kept, pixels))
            for slot in range(len(videos) - len(kept)):
                position, out = decoded[slot % len(decoded)]
                kept.append(position)
                pixels.append(out)
        batch: dict[str, Any] = {
            "pixel_values_videos": torch.cat(pixels, dim=0).to(self.pixel_dtype) if pixels else None,
            "labels": torch.tensor([labels[i] for i in kept], dtype=torch.long)}
        if self.return_paths:
            batch["video_paths"] = [video_path(videos[i]) or videos[i] for i in kept]
        if self.bad_video == "skip":
            batch["skipped_videos"] = skipped
            batch["skipped_paths"] = skipped_paths
        return batch

    def log_skipped(self, batch: Mapping) -> list[str]:
        """Log the skipped videos of `batch` that this process has not logged yet; returns their paths.

        Call it in the main process on every batch: a DataLoader worker does not log (workers are re-created
        every epoch unless persistent, and each has its own memory), so each bad file is logged once per run."""
        new = []
        for path, entry in zip(batch.get("skipped_paths") or (), batch.get("skipped_videos") or ()):
            if path not in self._reported:
                self._reported.add(path)
                logger.warning("Skipping a video that cannot be decoded (bad_video='skip'): %s", entry)
                new.append(path)
        return new

    def _report_skip(self, shown: str, error: Exception) -> str:
        """`"video: cause"`, logged once per video by the main process (`log_skipped` for workers' batches)."""
        entry = _skip_entry(shown, error)
        if str(shown) not in self._reported and get_worker_info() is None:
            self._reported.add(str(shown))
            logger.warning("Skipping a video that cannot be decoded (bad_video='skip'): %s", entry)
        return entry

    def __repr__(self) -> str:
        mode = f"train=True, augmentation={self.augmentation}, seed={self.seed}" if self.train else "train=False"
        return (f"{type(self).__name__}({mode}, process_index={self.process_index}, num_clips={self.num_clips}, "
                f"num_crops={self.num_crops}, epoch={self.epoch})")


def _skip_entry(shown: str, error: Exception) -> str:
    """`"video: cause"` on one line."""
    cause = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{shown}: {cause}" if str(shown) not in cause else cause


def _decoding_failure(failed: list[tuple[str, Exception, Exception]], batch_size: int) -> VideoDecodingError:
    """One error naming every video of the batch that could not be decoded (`(shown, named error, error)`), and
    the fixes."""
    hint = ("pass --bad_video skip (bad_video='skip') to leave such files out, or find them all first with "
            "`hfvideoclip data check`.")
    if len(failed) == 1:
        _, named, error = failed[0]
        lines = str(named).splitlines() or [type(named).__name__]
        message = "\n".join([f"{lines[0].rstrip('. ')}; {hint}", *lines[1:]])
    else:
        entries = "; ".join(_skip_entry(shown, named).rstrip(". ") for shown, named, _ in failed)
        message = f"{len(failed)} of {batch_size} videos of a batch cannot be decoded: {entries}. P{hint[1:]}"
        error = failed[0][2]
    combined = VideoDecodingError(message)
    combined.__cause__ = error
    return combined


def _describe(video: Any) -> str:
    if isinstance(video, Mapping) and video.get("path"):
        return repr(os.fspath(video["path"]))
    if isinstance(video, (str, os.PathLike)):
        return repr(os.fspath(video))
    if isinstance(video, (bytes, bytearray, memoryview)):
        return "<bytes input>"
    if isinstance(video, (np.ndarray, torch.Tensor)):
        return f"<frames {tuple(video.shape)}>"
    name = getattr(video, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(video).__name__}>"


def _video_key(video: Any) -> bytes:
    """Bytes that identify a video for the batch seed: its path, or a digest of its bytes / decoded frames."""
    if isinstance(video, Mapping) and ("path" in video or "bytes" in video):  # a datasets.Video value
        return _video_key(video["bytes"]) if video.get("bytes") is not None else _video_key(video["path"])
    if isinstance(video, (str, os.PathLike)):
        return b"path:" + os.fsencode(os.fspath(video))
    if isinstance(video, (bytes, bytearray, memoryview)):
        return b"bytes:" + hashlib.blake2b(bytes(video), digest_size=16).digest()
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    if isinstance(video, np.ndarray):
        array = np.ascontiguousarray(video)
        header = f"frames:{array.dtype.str}:{array.shape}:".encode()
        return header + hashlib.blake2b(array.tobytes(), digest_size=16).digest()
    name = getattr(video, "name", None)
    if isinstance(name, str):
        return b"file:" + os.fsencode(name)
    raise TypeError(f"VideoClipCollator(train=True) seeds its augmentation from the batch's videos and cannot identify "
                    f"a {type(video).__name__}: pass paths, bytes or decoded frames.")


__all__ = ["VideoClipCollator"]
