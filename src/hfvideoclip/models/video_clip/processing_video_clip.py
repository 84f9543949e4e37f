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
from transformers.utils import PushToHubMixin

from .configuration_video_clip import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from .descriptor_files import HUB_ARGUMENTS, resolve_file

# `video_decoding` imports it; imported here as well because transformers releases before 5.23 copy only the direct
# relative imports of a remote module (`AutoProcessor` with `trust_remote_code`) into their module cache.
from .fork_safety import install_fork_guard  # noqa: F401
from .video_decoding import as_video_tensor, decode_video
from .video_sampling import segment_frame_indices
from .video_transforms import center_crop, normalize, resize_shorter_side, three_crop

VIDEO_PROCESSOR_NAME = "video_preprocessor_config.json"
_DECODABLE = (str, os.PathLike, bytes, bytearray, memoryview)
_SETTINGS = ("num_frames", "size", "crop_size", "image_mean", "image_std")
VIDEO_ARGUMENTS = ("num_frames", "num_clips", "num_crops", "return_metadata", "return_tensors")
"""Keyword arguments of `VideoClipVideoProcessor.__call__` (`videos_kwargs` of `VideoClipProcessor`)."""
TEXT_ARGUMENTS = ("text_pair", "text_target", "text_pair_target", "add_special_tokens", "padding", "truncation",
                  "max_length", "stride", "is_split_into_words", "pad_to_multiple_of", "return_token_type_ids",
                  "return_attention_mask", "return_overflowing_tokens", "return_special_tokens_mask",
                  "return_offsets_mapping", "return_length", "verbose", "padding_side", "return_tensors")
"""Tokenizer arguments `VideoClipProcessor` routes to its tokenizer (`text_kwargs`), as transformers' `TextKwargs`."""
_REFUSED = {"fps": "VideoClip samples a fixed num_frames per clip, one frame per equal segment of the whole video; "
                   "pass num_frames=... instead"}
_LOADING_BOOKKEEPING = ("_from_auto", "_from_pipeline", "trust_remote_code", "code_revision")


def _is_file_like(obj: Any) -> bool:
    return hasattr(obj, "read") and callable(obj.read)


def _is_datasets_video(obj: Any) -> bool:
    """A `datasets.Video(decode=False)` value: a mapping with a `path` and/or `bytes` entry."""
    return isinstance(obj, dict) and ("path" in obj or "bytes" in obj)


class VideoClipVideoProcessor(PushToHubMixin):
    """Turns videos into a `BatchFeature` with `pixel_values_videos` of shape
    (num_videos * views, num_frames, 3, crop, crop).

    Args:
        num_frames: frames sampled per clip, one per equal segment.
        size: target length of the shorter side before cropping.
        crop_size: side of the square crop(s).
        image_mean, image_std: per-channel normalisation of pixel values in [0, 1].
    """

    model_input_names = ["pixel_values_videos"]

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
        """The settings as saved in `video_preprocessor_config.json`."""
        return {"video_processor_type": type(self).__name__, "processor_class": "VideoClipVideoProcessor",
                "num_frames": self.num_frames, "size": self.size, "crop_size": self.crop_size,
                "image_mean": self.image_mean, "image_std": self.image_std}

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs) -> list[str]:
        """Write `video_preprocessor_config.json` into `save_directory` (then upload it with `push_to_hub=True`,
        `repo_id=...`); `push_to_hub(repo_id)` saves and uploads. Returns the files written."""
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, VIDEO_PROCESSOR_NAME)
        with open(path, "w") as handle:
            handle.write(self.to_json_string())
        _push_saved(self, save_directory, push_to_hub, kwargs)
        return [path]

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> VideoClipVideoProcessor:
        """Read `video_preprocessor_config.json` (with or without `video_processor_type`); for a plain CLIP
        checkpoint fall back to its `preprocessor_config.json` (CLIPImageProcessor format) and its `config.json`
        image size. `num_frames`, `size`, `crop_size`, `image_mean`, `image_std` override the saved values;
        `revision`, `token`, `cache_dir`, `local_files_only`, `subfolder`, `force_download`, `proxies` say where the
        files come from (as `transformers.utils.cached_file`)."""
        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_ARGUMENTS}
        for key in _LOADING_BOOKKEEPING:
            kwargs.pop(key, None)
        unknown = sorted(set(kwargs) - set(_SETTINGS))
        if unknown:
            raise TypeError(f"VideoClipVideoProcessor.from_pretrained got unexpected argument {unknown[0]!r}; it "
                            f"takes the settings {', '.join(_SETTINGS)} and the Hub arguments "
                            f"{', '.join(HUB_ARGUMENTS)}.")
        overrides = kwargs
        kwargs = {}
        own = resolve_file(name_or_path, VIDEO_PROCESSOR_NAME, **hub)
        if own is not None:
            data = _read_json(own)
            kwargs = {k: data[k] for k in _SETTINGS if k in data}
        else:
            image = resolve_file(name_or_path, "preprocessor_config.json", **hub)
            if image is not None:
                data = _read_json(image)
                size = data.get("size", {})
                crop = data.get("crop_size", {})
                kwargs["size"] = size.get("shortest_edge", size.get("height")) if isinstance(size, dict) else size
                kwargs["crop_size"] = crop.get("height") if isinstance(crop, dict) else crop
                for key in ("image_mean", "image_std"):
                    if key in data:
                        kwargs[key] = data[key]
            config_file = resolve_file(name_or_path, "config.json", **hub)
            if image is None and config_file is None:
                where = f" at revision {hub['revision']!r}" if hub.get("revision") else ""
                raise OSError(f"{str(name_or_path)!r}{where} holds no {VIDEO_PROCESSOR_NAME}, "
                              "preprocessor_config.json or config.json: pass a saved VideoClip or CLIP model "
                              "folder or Hub repository (offline: one in the cache).")
            if config_file is not None:
                config = _read_json(config_file)
                vision = config.get("vision_config", {})
                kwargs.setdefault("size", vision.get("image_size"))
                kwargs.setdefault("crop_size", vision.get("image_size"))
                if config.get("num_frames") or vision.get("num_frames"):  # an X-CLIP config has it in vision_config
                    kwargs["num_frames"] = config.get("num_frames") or vision["num_frames"]
                for key in ("image_mean", "image_std"):
                    if config.get(key):
                        kwargs[key] = config[key]
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        kwargs.update(overrides)
        return cls(**kwargs)

    # ---------------------------------------------------------------- processing
    def load_clips(self, video, num_clips: int = 1, train: bool = False, generator: torch.Generator | None = None,
                   num_frames: int | None = None, return_metadata: bool = False):
        """Decode/sample one video: uint8 (num_clips, num_frames, H, W, 3) (`num_frames` default: the processor's);
        with `return_metadata`, the pair (clips, metadata dict of `decode_video`). `train=True` samples a random
        frame inside each segment from `generator` (TSN's training sampling, used by the training collator)."""
        num_frames = self.num_frames if num_frames is None else num_frames
        if isinstance(video, _DECODABLE) or _is_file_like(video) or _is_datasets_video(video):
            return decode_video(video, num_frames, num_clips=num_clips, train=train, generator=generator,
                                return_metadata=return_metadata)
        if isinstance(video, (np.ndarray, torch.Tensor)) or _is_frame_list(video):
            frames = as_video_tensor(video)
            indices = segment_frame_indices(frames.shape[0], num_frames, num_clips=num_clips, train=train,
                                            generator=generator)
            clips = frames[indices]
            if not return_metadata:
                return clips
            return clips, {"total_num_frames": int(frames.shape[0]), "fps": None, "duration": None,
                           "height": int(frames.shape[1]), "width": int(frames.shape[2]),
                           "frames_indices": indices.tolist()}
        raise ValueError(
            f"Unsupported video input of type {type(video).__name__}: pass a file path or URL, bytes, a binary file "
            "object, a datasets.Video value ({'path', 'bytes'}), decoded frames as a numpy array / tensor of "
            "shape (frames, height, width, 3), or a list of frames (PIL images or (height, width, 3) arrays).")

    def transform_clip(self, clip: torch.Tensor, num_crops: int = 1) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> float (num_crops, T, 3, crop, crop), normalised: resize of the shorter side to
        `size`, then the centre crop (`num_crops=1`) or three crops along the long side (`num_crops=3`). (Training
        views are `hfvideoclip.data.augment.augmented_view`: augmentation does not ship with a model.)"""
        if not (isinstance(clip, torch.Tensor) and clip.dtype == torch.uint8):
            clip = as_video_tensor(clip)  # the transforms below take uint8 (float frames: `as_video_tensor`'s rule)
        video = clip.permute(0, 3, 1, 2)  # (T, 3, H, W), values 0..255, channels-last
        video = resize_shorter_side(video, self.size)  # uint8 (fast on the CPU)
        if num_crops == 1:
            views = center_crop(video, self.crop_size).unsqueeze(0)
        elif num_crops == 3:
            views = three_crop(video, self.crop_size)
        else:
            raise ValueError(f"num_crops must be 1 (centre) or 3 (three crops along the long side), got {num_crops}.")
        return normalize(views, self.image_mean, self.image_std)  # uint8 -> float, scaled to [0, 1] and normalised

    def __call__(self, videos, num_clips: int = 1, num_crops: int = 1, *, num_frames: int | None = None, return_metadata: bool = False, return_tensors: str | None = "pt",
                 **kwargs) -> BatchFeature:
        """videos: one video or a list of videos; a list of frames (PIL images or (H, W, 3) arrays) is one video.

        Returns a `BatchFeature` with `pixel_values_videos` (num_videos * num_clips * num_crops, T, 3, crop, crop),
        the views of each video contiguous (clip-major, then crop), T = `num_frames` (default: the processor's); a
        torch tensor, or numpy with `return_tensors="np"`. `return_metadata=True` adds `video_metadata`, per video
        a dict with `total_num_frames`, `fps`, `duration` (None for decoded frames), `height`, `width` and
        `frames_indices` (num_clips lists of num_frames).
        """
        _refuse(kwargs, "VideoClipVideoProcessor", VIDEO_ARGUMENTS)
        if num_frames is not None and (isinstance(num_frames, bool) or not isinstance(num_frames, int)
                                       or num_frames < 1):
            raise ValueError(f"num_frames must be a positive int, got {num_frames!r}.")
        tensor_type = _tensor_type(return_tensors)
        if _is_frame_list(videos) or not isinstance(videos, (list, tuple)):
            videos = [videos]
        if len(videos) == 0:
            raise ValueError("`videos` is empty: pass at least one video.")
        views, metadata = [], []
        for video in videos:
            clips = self.load_clips(video, num_clips=num_clips, num_frames=num_frames,
                                    return_metadata=return_metadata)
            if return_metadata:
                clips, info = clips
                metadata.append(info)
            for clip in clips:
                views.append(self.transform_clip(clip, num_crops=num_crops))
        pixels = torch.cat(views, dim=0)
        data: dict[str, Any] = {"pixel_values_videos": pixels.numpy() if tensor_type == "np" else pixels}
        if return_metadata:
            data["video_metadata"] = metadata
        return BatchFeature(data=data)


class VideoClipProcessor(PushToHubMixin):
    """Tokenizer plus `VideoClipVideoProcessor`, saved side by side (`save_pretrained` / `from_pretrained`).

    `processor(text=[...], videos=[...])` returns a `BatchFeature` with `input_ids`, `attention_mask` and
    `pixel_values_videos` of shape (num_videos * num_clips * num_crops, num_frames, 3, crop, crop). Keyword
    arguments go where they belong, as transformers' processors route them: video ones (`VIDEO_ARGUMENTS`: num_frames,
    num_clips, num_crops, ...) to the video processor, tokenizer ones (`TEXT_ARGUMENTS`: padding, max_length, ...)
    to the tokenizer, `return_tensors` to both; `videos_kwargs={...}`, `text_kwargs={...}` and
    `common_kwargs={...}` dicts likewise. Any other argument is refused.
    """

    attributes = ["tokenizer", "video_processor"]

    def __init__(self, tokenizer=None, video_processor: VideoClipVideoProcessor | None = None):
        self.tokenizer = tokenizer
        self.video_processor = video_processor or VideoClipVideoProcessor()

    @property
    def model_input_names(self) -> list[str]:
        """The tokenizer's inputs (`input_ids`, `attention_mask`) and `pixel_values_videos`."""
        names = list(getattr(self.tokenizer, "model_input_names", None) or [])
        return names + [n for n in self.video_processor.model_input_names if n not in names]

    def to_dict(self) -> dict:
        """`processor_class` and the video processor's settings (the tokenizer saves its own files)."""
        return {"processor_class": type(self).__name__, "video_processor": self.video_processor.to_dict()}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}:\n- tokenizer: {self.tokenizer!r}\n- video_processor: "
                f"{self.video_processor!r}")

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> VideoClipProcessor:
        """Works on our saved directories and on plain CLIP checkpoints. `num_frames`, `size`, `crop_size`,
        `image_mean`, `image_std` in kwargs override the saved video settings; `revision`, `token`, `cache_dir`,
        `local_files_only`, `subfolder` (as `transformers.utils.cached_file`) apply to every file read."""
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in _SETTINGS}
        hub = {k: kwargs[k] for k in HUB_ARGUMENTS if k in kwargs}  # also for the tokenizer
        for key in ("_from_auto", "_from_pipeline"):  # AutoProcessor's bookkeeping; trust_remote_code goes on to the
            kwargs.pop(key, None)                     # tokenizer, whose folder's config.json maps to our code
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        _fit_text_positions(tokenizer, name_or_path, **hub)
        return cls(tokenizer, VideoClipVideoProcessor.from_pretrained(name_or_path, **overrides, **hub))

    _auto_class = "AutoProcessor"  # what `custom_object_save` writes into `auto_map`

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        """As transformers' processors: the Auto class `save_pretrained` maps this class to (AutoProcessor calls it
        when it loads the class from a repository's code)."""
        cls._auto_class = auto_class

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs) -> None:
        """Tokenizer files, `video_preprocessor_config.json`, and `processor_config.json` with an `auto_map` entry
        for `AutoProcessor`; this file and the files it imports (decoding, sampling, transforms) are copied next to
        them, so `AutoProcessor.from_pretrained(folder, trust_remote_code=True)` works without this package.
        `push_to_hub=True` (with `repo_id=...`) then uploads the folder; `push_to_hub(repo_id)` saves and uploads."""
        from transformers.dynamic_module_utils import custom_object_save

        os.makedirs(save_directory, exist_ok=True)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)
        self.video_processor.save_pretrained(save_directory)
        config = {"processor_class": "VideoClipProcessor"}
        custom_object_save(self, save_directory, config=config)
        with open(os.path.join(save_directory, "processor_config.json"), "w") as handle:
            json.dump(config, handle, indent=2)
        _push_saved(self, save_directory, push_to_hub, kwargs)

    def __call__(self, text=None, videos=None, *, text_kwargs: dict | None = None,
                 videos_kwargs: dict | None = None, common_kwargs: dict | None = None, **kwargs) -> BatchFeature:
        """Tokenise `text` (padding and truncation on by default) and process `videos` (see
        `VideoClipVideoProcessor.__call__`); keyword arguments are routed as the class docstring says. Returns a
        `BatchFeature` with `input_ids`, `attention_mask` (texts) and `pixel_values_videos` (videos), all torch
        tensors by default (`return_tensors="pt"`) or numpy arrays (`return_tensors="np"`)."""
        if text is None and videos is None:
            raise ValueError("Pass `text`, `videos` or both to VideoClipProcessor.")
        text_args, video_args = _route(kwargs, text_kwargs, videos_kwargs, common_kwargs)
        data: dict[str, Any] = {}
        if text is not None:
            if self.tokenizer is None:
                raise ValueError("This processor has no tokenizer; build it with VideoClipProcessor(tokenizer, ...).")
            text_args = {"return_tensors": "pt", "padding": True, "truncation": True, **text_args}
            _tensor_type(text_args["return_tensors"])
            data.update(self.tokenizer(text, **text_args))
        if videos is not None:
            data.update(self.video_processor(videos, **video_args))
        return BatchFeature(data=data)

    def batch_decode(self, *args, **kwargs):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.tokenizer.decode(*args, **kwargs)


def _is_frame(x: Any) -> bool:
    """One decoded frame: a PIL image or a 3-D array / tensor (H, W, 3)."""
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.ndim == 3
    return type(x).__module__.startswith("PIL.") and hasattr(x, "convert")


def _is_frame_list(x: Any) -> bool:
    """A list of frames (PIL images or (H, W, 3) arrays): one video, as transformers' video utilities read it."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(_is_frame(f) for f in x)


def _refuse(kwargs: dict, owner: str, accepted: Sequence[str]) -> None:
    """One-line errors for arguments `owner` does not take (`fps` named with its alternative)."""
    for key, value in kwargs.items():
        if key in _REFUSED and value is None:
            continue
        if key in _REFUSED:
            raise ValueError(f"{owner} does not take {key}={value!r}: {_REFUSED[key]}.")
        raise TypeError(f"{owner} got an unexpected argument {key!r}; it accepts {', '.join(accepted)}.")


def _tensor_type(return_tensors) -> str | None:
    """"pt" or "np" (or None: torch pixels, tokenizer lists); anything else is refused."""
    value = getattr(return_tensors, "value", return_tensors)
    if value not in ("pt", "np", None):
        raise ValueError(f"return_tensors={return_tensors!r} is not supported: pass 'pt' (torch), 'np' (numpy) or "
                         "None.")
    return value


def _route(kwargs: dict, text_kwargs: dict | None, videos_kwargs: dict | None,
           common_kwargs: dict | None) -> tuple[dict, dict]:
    """Split `VideoClipProcessor.__call__`'s keyword arguments into the tokenizer's and the video processor's, as
    transformers' `ProcessorMixin` does with `TextKwargs` / `VideosKwargs`; unknown or repeated ones are refused."""
    text_args, video_args = dict(text_kwargs or {}), dict(videos_kwargs or {})
    for name, given, accepted in (("text_kwargs", text_args, TEXT_ARGUMENTS),
                                  ("videos_kwargs", video_args, VIDEO_ARGUMENTS)):
        unknown = sorted(set(given) - set(accepted) - set(_REFUSED))  # `fps`: refused by the video processor
        if unknown:
            raise TypeError(f"VideoClipProcessor got an unexpected key {unknown[0]!r} in {name}; it accepts "
                            f"{', '.join(accepted)}.")
    for key, value in {**(common_kwargs or {}), **kwargs}.items():
        if key in (common_kwargs or {}) and key in kwargs:
            raise TypeError(f"VideoClipProcessor got {key!r} twice, as an argument and in common_kwargs; pass it once.")
        targets = [args for args, names in ((text_args, TEXT_ARGUMENTS), (video_args, VIDEO_ARGUMENTS))
                   if key in names]
        if key in _REFUSED:
            targets = [video_args]
        if not targets:
            raise TypeError(f"VideoClipProcessor got an unexpected argument {key!r}; it accepts text, videos, the "
                            f"video arguments {', '.join(VIDEO_ARGUMENTS)}, the tokenizer arguments "
                            f"{', '.join(TEXT_ARGUMENTS)}, and text_kwargs / videos_kwargs / common_kwargs dicts.")
        for args in targets:
            if key in args and key in kwargs:
                raise TypeError(f"VideoClipProcessor got {key!r} twice, as an argument and in a *_kwargs dict; pass "
                                "it once.")
            args.setdefault(key, value)
    return text_args, video_args


def _push_saved(obj, save_directory, push_to_hub: bool, kwargs: dict) -> None:
    """`save_pretrained(..., push_to_hub=True, repo_id=...)`: upload the saved folder, as transformers' classes do."""
    for key in ("max_shard_size", "safe_serialization"):  # what `PushToHubMixin.push_to_hub` passes for weights
        kwargs.pop(key, None)
    if not push_to_hub:
        if kwargs:
            raise TypeError(f"{type(obj).__name__}.save_pretrained got unexpected argument {sorted(kwargs)[0]!r}; it "
                            "takes save_directory, push_to_hub and, with push_to_hub=True, repo_id, token, "
                            "commit_message, private, create_pr.")
        return
    repo_id = kwargs.pop("repo_id", None) or os.path.basename(os.path.normpath(str(save_directory)))
    commit_message = kwargs.pop("commit_message", None)
    token = kwargs.pop("token", None)
    private = kwargs.pop("private", None)
    create_pr = kwargs.pop("create_pr", False)
    from huggingface_hub import create_repo

    repo_id = create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
    obj._upload_modified_files(save_directory, repo_id, files_timestamps={}, commit_message=commit_message,
                               token=token, create_pr=create_pr)


def _fit_text_positions(tokenizer, name_or_path, **hub_kwargs) -> None:
    """`tokenizer.model_max_length` = min(itself, `text_config.max_position_embeddings` of the model's config.json
    beside it), so `truncation=True` cuts texts to the text tower's positions (ViCLIP: 32) with end-of-text last."""
    path = resolve_file(name_or_path, "config.json", **hub_kwargs)
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


__all__ = ["TEXT_ARGUMENTS", "VIDEO_ARGUMENTS", "VideoClipProcessor", "VideoClipVideoProcessor"]
