"""`VideoClipProcessor`: CLIP tokenizer + video preprocessing written for video tensors (no torchvision).

Videos go through: decoding with PyAV (only the frames needed) -> one frame per equal segment (`num_clips`
temporal views at test time) -> resize of the shorter side -> centre crop (or 3 crops) -> normalisation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature

from .configuration_video_clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

# `video_decoding` imports it; imported here as well because transformers releases before 5.23 copy only the direct
# relative imports of a remote module (`AutoProcessor` with `trust_remote_code`) into their module cache.
from .fork_safety import install_fork_guard  # noqa: F401
from .video_decoding import as_video_tensor, decode_video
from .video_sampling import segment_frame_indices
from .video_transforms import (
    AugmentationConfig,
    augment_clip,
    center_crop,
    normalize,
    resize_shorter_side,
    three_crop,
)

VIDEO_PROCESSOR_NAME = "video_preprocessor_config.json"
_DECODABLE = (str, os.PathLike, bytes, bytearray, memoryview)


def _is_file_like(obj: Any) -> bool:
    return hasattr(obj, "read") and callable(obj.read)


def _is_datasets_video(obj: Any) -> bool:
    """A `datasets.Video(decode=False)` value: a mapping with a `path` and/or `bytes` entry."""
    return isinstance(obj, dict) and ("path" in obj or "bytes" in obj)


class VideoClipVideoProcessor:
    """Turns videos into `pixel_values_videos` of shape (num_videos * views, num_frames, 3, crop, crop).

    Args:
        num_frames: frames sampled per clip, one per equal segment.
        size: target length of the shorter side before cropping.
        crop_size: side of the square crop(s).
        image_mean, image_std: per-channel normalisation of pixel values in [0, 1].
    """

    def __init__(self, num_frames: int = 8, size: int = 224, crop_size: int | None = None,
                 image_mean: Sequence[float] = OPENAI_CLIP_MEAN, image_std: Sequence[float] = OPENAI_CLIP_STD):
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}.")
        self.num_frames = int(num_frames)
        self.size = int(size)
        self.crop_size = int(crop_size if crop_size is not None else size)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        return {"processor_class": "VideoClipVideoProcessor", "num_frames": self.num_frames, "size": self.size,
                "crop_size": self.crop_size, "image_mean": self.image_mean, "image_std": self.image_std}

    def save_pretrained(self, save_directory) -> None:
        os.makedirs(save_directory, exist_ok=True)
        with open(os.path.join(save_directory, VIDEO_PROCESSOR_NAME), "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)

    @classmethod
    def from_pretrained(cls, name_or_path, **overrides) -> VideoClipVideoProcessor:
        """Read `video_preprocessor_config.json`; for a plain CLIP checkpoint fall back to its
        `preprocessor_config.json` (CLIPImageProcessor format) and its `config.json` image size."""
        kwargs: dict[str, Any] = {}
        own = _resolve_file(name_or_path, VIDEO_PROCESSOR_NAME)
        if own is not None:
            data = _read_json(own)
            kwargs = {k: data[k] for k in ("num_frames", "size", "crop_size", "image_mean", "image_std") if k in data}
        else:
            image = _resolve_file(name_or_path, "preprocessor_config.json")
            if image is not None:
                data = _read_json(image)
                size = data.get("size", {})
                crop = data.get("crop_size", {})
                kwargs["size"] = size.get("shortest_edge", size.get("height")) if isinstance(size, dict) else size
                kwargs["crop_size"] = crop.get("height") if isinstance(crop, dict) else crop
                for key in ("image_mean", "image_std"):
                    if key in data:
                        kwargs[key] = data[key]
            config_file = _resolve_file(name_or_path, "config.json")
            if config_file is not None:
                config = _read_json(config_file)
                vision = config.get("vision_config", {})
                kwargs.setdefault("size", vision.get("image_size"))
                kwargs.setdefault("crop_size", vision.get("image_size"))
                if config.get("num_frames"):
                    kwargs["num_frames"] = config["num_frames"]
                for key in ("image_mean", "image_std"):
                    if config.get(key):
                        kwargs[key] = config[key]
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        kwargs.update(overrides)
        return cls(**kwargs)

    # ---------------------------------------------------------------- processing
    def load_clips(self, video, num_clips: int = 1, train: bool = False,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode/sample one video: uint8 (num_clips, num_frames, H, W, 3)."""
        if isinstance(video, _DECODABLE) or _is_file_like(video) or _is_datasets_video(video):
            return decode_video(video, self.num_frames, num_clips=num_clips, train=train, generator=generator)
        if isinstance(video, (np.ndarray, torch.Tensor)):
            frames = as_video_tensor(video)
            indices = segment_frame_indices(frames.shape[0], self.num_frames, num_clips=num_clips, train=train,
                                            generator=generator)
            return frames[indices]
        raise ValueError(
            f"Unsupported video input of type {type(video).__name__}: pass a file path, bytes, a binary file "
            "object, a datasets.Video value ({'path', 'bytes'}), or decoded frames as a numpy array / tensor of "
            "shape (frames, height, width, 3).")

    def transform_clip(self, clip: torch.Tensor, num_crops: int = 1, train: bool = False,
                       generator: torch.Generator | None = None,
                       augmentation: AugmentationConfig | None = None) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> float (num_crops, T, 3, crop, crop), normalised.

        Test (`train=False`): resize of the shorter side to `size`, then the centre crop (`num_crops=1`) or three
        crops along the long side (`num_crops=3`). Training (`train=True`, one view): `augment_clip` with
        `augmentation` (default `AugmentationConfig()`) on the region of the frames that the test-time centre crop
        covers, cut at the decoded resolution and resized once to `crop` (the random resized crop is a sub-box of
        the test view, without upsampling an already downscaled frame).
        """
        if not (isinstance(clip, torch.Tensor) and clip.dtype == torch.uint8):
            clip = as_video_tensor(clip)  # the transforms below take uint8 (float frames: `as_video_tensor`'s rule)
        video = clip.permute(0, 3, 1, 2)  # (T, 3, H, W), values 0..255, channels-last
        if train:
            if num_crops != 1:
                raise ValueError(f"num_crops={num_crops} with train=True: training takes one augmented view per clip "
                                 "(crops are a test-time view); pass num_crops=1, or num_clips for more views.")
            config = augmentation if augmentation is not None else AugmentationConfig()
            # On uint8 frames: the crop's resize takes torch's uint8 kernel (1 ms instead of 5 per 8-frame clip);
            # colour jitter and grayscale round to uint8 as torchvision's do on PIL images.
            views = augment_clip(center_crop(video, self._test_region(video)), config, generator,
                                 size=self.crop_size, max_value=255.0).unsqueeze(0)
        else:
            if augmentation is not None:
                raise ValueError("`augmentation` was given with train=False: test-time views are not augmented; "
                                 "pass train=True or drop `augmentation`.")
            video = resize_shorter_side(video, self.size)  # uint8 (fast on the CPU: `_resize`)
            if num_crops == 1:
                views = center_crop(video, self.crop_size).unsqueeze(0)
            elif num_crops == 3:
                views = three_crop(video, self.crop_size)
            else:
                raise ValueError(f"num_crops must be 1 (centre) or 3 (three crops along the long side), got "
                                 f"{num_crops}.")
        return normalize(views, self.image_mean, self.image_std)  # uint8 -> float, scaled to [0, 1] and normalised

    def _test_region(self, video: torch.Tensor) -> int:
        """Side, in decoded pixels, of the square that the test-time centre crop covers (resize, then crop)."""
        height, width = video.shape[-2:]
        side = int(round(self.crop_size * min(height, width) / self.size))
        return max(1, min(side, height, width))

    def __call__(self, videos, num_clips: int = 1, num_crops: int = 1, train: bool = False,
                 generator: torch.Generator | None = None,
                 augmentation: AugmentationConfig | None = None) -> torch.Tensor:
        """videos: one video or a list. Returns (num_videos * num_clips * num_crops, T, 3, crop, crop), the views of
        each video contiguous (clip-major, then crop).

        `train=True`: a random frame inside each segment (every clip its own offsets) and `augment_clip` with
        `augmentation` (default `AugmentationConfig()`) per clip, all drawn from `generator` in order.
        """
        if not isinstance(videos, (list, tuple)):
            videos = [videos]
        if len(videos) == 0:
            raise ValueError("`videos` is empty: pass at least one video.")
        views = []
        for video in videos:
            for clip in self.load_clips(video, num_clips=num_clips, train=train, generator=generator):
                views.append(self.transform_clip(clip, num_crops=num_crops, train=train, generator=generator,
                                                 augmentation=augmentation))
        return torch.cat(views, dim=0)


class VideoClipProcessor:
    """Tokenizer plus `VideoClipVideoProcessor`, saved side by side (`save_pretrained` / `from_pretrained`).

    `processor(text=[...], videos=[...])` returns a `BatchFeature` with `input_ids`, `attention_mask` and
    `pixel_values_videos` of shape (num_videos * num_clips * num_crops, num_frames, 3, crop, crop).
    """

    attributes = ["tokenizer", "video_processor"]

    def __init__(self, tokenizer=None, video_processor: VideoClipVideoProcessor | None = None):
        self.tokenizer = tokenizer
        self.video_processor = video_processor or VideoClipVideoProcessor()

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> VideoClipProcessor:
        """Works on our saved directories and on plain CLIP checkpoints. `num_frames`, `size`, `crop_size`,
        `image_mean`, `image_std` in kwargs override the saved video settings."""
        video_keys = {"num_frames", "size", "crop_size", "image_mean", "image_std"}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in video_keys}
        for key in ("_from_auto", "_from_pipeline"):  # AutoProcessor's bookkeeping; trust_remote_code goes on to the
            kwargs.pop(key, None)                     # tokenizer, whose folder's config.json maps to our code
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        _fit_text_positions(tokenizer, name_or_path)
        return cls(tokenizer, VideoClipVideoProcessor.from_pretrained(name_or_path, **overrides))

    _auto_class = "AutoProcessor"  # what `custom_object_save` writes into `auto_map`

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """As transformers' processors: the Auto class `save_pretrained` maps this class to (AutoProcessor calls it
        when it loads the class from a repository's code)."""
        cls._auto_class = auto_class

    def save_pretrained(self, save_directory, **kwargs) -> None:
        """Tokenizer files, `video_preprocessor_config.json`, and `processor_config.json` with an `auto_map` entry
        for `AutoProcessor`; this file and the files it imports (decoding, sampling, transforms) are copied next to
        them, so `AutoProcessor.from_pretrained(folder, trust_remote_code=True)` works without this package."""
        from transformers.dynamic_module_utils import custom_object_save

        os.makedirs(save_directory, exist_ok=True)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)
        self.video_processor.save_pretrained(save_directory)
        config = {"processor_class": "VideoClipProcessor"}
        custom_object_save(self, save_directory, config=config)
        with open(os.path.join(save_directory, "processor_config.json"), "w") as handle:
            json.dump(config, handle, indent=2)

    def __call__(self, text=None, videos=None, num_clips: int = 1, num_crops: int = 1, train: bool = False,
                 generator: torch.Generator | None = None, return_tensors: str = "pt", padding=True,
                 truncation: bool = True, augmentation: AugmentationConfig | None = None,
                 **tokenizer_kwargs) -> BatchFeature:
        if text is None and videos is None:
            raise ValueError("Pass `text`, `videos` or both to VideoClipProcessor.")
        data: dict[str, Any] = {}
        if text is not None:
            if self.tokenizer is None:
                raise ValueError("This processor has no tokenizer; build it with VideoClipProcessor(tokenizer, ...).")
            data.update(self.tokenizer(text, return_tensors=return_tensors, padding=padding, truncation=truncation,
                                       **tokenizer_kwargs))
        if videos is not None:
            data["pixel_values_videos"] = self.video_processor(videos, num_clips=num_clips, num_crops=num_crops,
                                                               train=train, generator=generator,
                                                               augmentation=augmentation)
        return BatchFeature(data=data)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


def _resolve_file(name_or_path, filename: str) -> str | None:
    """Local path of `filename` in a directory or Hub repository, or None if it is not there."""
    local = os.path.join(str(name_or_path), filename)
    if os.path.isdir(str(name_or_path)):
        return local if os.path.isfile(local) else None
    try:
        from huggingface_hub import hf_hub_download

        return hf_hub_download(str(name_or_path), filename)
    except Exception:
        return None


def _fit_text_positions(tokenizer, name_or_path) -> None:
    """`tokenizer.model_max_length` = min(itself, `text_config.max_position_embeddings` of the model's config.json
    beside it), so `truncation=True` cuts texts to the text tower's positions (ViCLIP: 32) with end-of-text last."""
    path = _resolve_file(name_or_path, "config.json")
    config = _read_json(path) if path is not None else None
    text_config = config.get("text_config") if isinstance(config, dict) else None
    positions = text_config.get("max_position_embeddings") if isinstance(text_config, dict) else None
    if isinstance(positions, int) and 0 < positions < tokenizer.model_max_length:
        tokenizer.model_max_length = positions


def _read_json(path: str) -> dict:
    try:
        with open(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); fix or delete the file and save the processor "
                         "again.") from error


__all__ = ["VideoClipProcessor", "VideoClipVideoProcessor"]
