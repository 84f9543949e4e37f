"""The `video` column of the datasets hfvideoclip builds: `datasets.Video(decode=False)`.

Its values are ``{"path": ..., "bytes": None}`` dicts (the collator, the processor and the pipeline read them as
they read paths), and `Dataset.push_to_hub` / `embed_table_storage` embed each file's bytes, so a pushed dataset
carries its videos instead of this machine's paths (`Video.embed_storage`, from datasets 4.6, the declared
minimum).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def video_feature():
    """The feature of the `video` column: `datasets.Video(decode=False)` (no decoder needed to read a row)."""
    import datasets

    return datasets.Video(decode=False)


def video_path(value: Any) -> str | None:
    """The file path of a video value: a path as given, a `datasets.Video(decode=False)` value's ``path``; None
    for bytes, frames or a value without a path."""
    if isinstance(value, Mapping):
        value = value.get("path")
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return None


__all__ = ["video_feature", "video_path"]
