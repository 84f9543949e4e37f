"""The user's own videos as a `ProtocolData`, with the data flags of transformers' example scripts.

```python
from hfvideoclip.data import load_video_classification_data, resolve_data

data = load_video_classification_data(validation_dir="ucf101/test")          # videofolder: one folder per class
data = load_video_classification_data(train_file="train.csv", validation_file="val.csv")    # video,label rows
data = load_video_classification_data(dataset_name="user/my-videos")         # any `datasets` dataset
data = resolve_data("toy-b2n", validation_dir=...)                          # own data wins over the protocol
```
Three sources, one per side (training / validation):

- ``dataset_name`` (+ ``dataset_config_name``): a Hub dataset, a local folder `datasets.load_dataset` reads, or a
  `DatasetDict` saved with ``save_to_disk``. Splits ``train`` and the first of ``validation``, ``valid``, ``val``,
  ``test``. The video column holds paths or `datasets.Video` values (read without decoding; embedded bytes are
  written once to ``<cache>/videos/``); the label column is a `ClassLabel`, class-name strings, or indices with
  ``class_names_file``.
- ``train_dir`` / ``validation_dir``: a videofolder, ``<dir>/<class folder>/**/<video>`` with `VIDEO_EXTENSIONS`;
  the class list is the sorted union of both folders' natural class names.
- ``train_file`` / ``validation_file``: CSV (``.csv``, ``.tsv``) or JSON lines (``.jsonl``, ``.json``) rows with the
  video and label columns; a label is a class name, or an integer index into ``class_names_file``. Relative video
  paths resolve against the file's folder. Without ``class_names_file`` the class list is the sorted union of the
  names in both files.

Every class name is made natural (`natural_class_name`: ``ApplyEyeMakeup`` -> ``apply eye makeup``). The result
has one split ``split1`` with ``train`` (the training set or None) and ``eval = {"test": validation set}``, or
``eval = {}`` when only training data is given (training without evaluation; the evaluate CLI then refuses it).
Each dataset has ``video`` (str path), ``label`` (`datasets.ClassLabel` of the natural class names) and the
source's other columns. Bad input raises ValueError naming the file, the field and the fix.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .protocols import ProtocolData, ProtocolSplit, load_protocol
from .video_column import video_feature

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".gif", ".mpg", ".mpeg", ".wmv", ".flv",
                    ".ogv", ".3gp", ".ts", ".dv")
VALIDATION_SPLIT_NAMES = ("validation", "valid", "val", "test")
SOURCE_FLAGS = ("dataset_name", "train_dir", "validation_dir", "train_file", "validation_file")
"""The flags that select own data; any of them given makes `resolve_data` ignore the protocol."""
_MAX_NAMED = 3  # how many offending paths / labels an error message lists


def natural_class_name(folder_name: str) -> str:
    """``"apply_eye_makeup"``, ``"ApplyEyeMakeup"``, ``"apply-eye-makeup"`` -> ``"apply eye makeup"``.

    A name with spaces already reads as words and is kept (whitespace collapsed): ``"passing American football
    (in game)"`` is unchanged.
    """
    name = str(folder_name).strip()
    if not re.search(r"\s", name):
        name = re.sub(r"[_\-]+", " ", name)
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name).lower()
    return " ".join(name.split())


def scan_video_files(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(videos, others): the files under `folder` at any depth, sorted, split by `VIDEO_EXTENSIONS`; hidden files
    (a name starting with ".") are in neither."""
    videos, others = [], []
    for path in sorted(Path(folder).rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        (videos if path.suffix.lower() in VIDEO_EXTENSIONS else others).append(path)
    return videos, others


def skipped_files_line(others: Sequence[str | os.PathLike], folder: str | os.PathLike, include: str) -> str:
    """One line: how many files a folder scan left out for their extension, which extensions, and `include`, how
    to use them anyway."""
    counts: dict[str, int] = {}
    for path in others:
        suffix = Path(path).suffix.lower() or "(none)"
        counts[suffix] = counts.get(suffix, 0) + 1
    shown = ", ".join(f"{suffix} ({count})" for suffix, count in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"{folder}: {len(others)} file{'s' if len(others) != 1 else ''} skipped (extensions: {shown}), not "
            f"in the video extensions {'/'.join(VIDEO_EXTENSIONS)}; {include}")


def default_video_cache_dir() -> str:
    """Where embedded video bytes are written: ``$HFVIDEOCLIP_CACHE/videos``, else ``~/.cache/hfvideoclip/videos``."""
    root = os.environ.get("HFVIDEOCLIP_CACHE") or os.path.join("~", ".cache", "hfvideoclip")
    return os.path.join(os.path.expanduser(root), "videos")


# ------------------------------------------------------------------------------------------------- arguments
@dataclass
class VideoDataArguments:
    """The own-data flags (transformers' example-script names); usable with `transformers.HfArgumentParser`."""

    _argument_group_name = "your own data (instead of --protocol)"

    dataset_name: str | None = field(default=None, metadata={
        "help": "a `datasets` dataset: Hub id, local folder, or a DatasetDict saved with save_to_disk"})
    dataset_config_name: str | None = field(default=None, metadata={"help": "configuration of --dataset_name"})
    train_dir: str | None = field(default=None, metadata={
        "help": "training videofolder: one sub-folder of videos per class"})
    validation_dir: str | None = field(default=None, metadata={
        "help": "validation videofolder: one sub-folder of videos per class"})
    train_file: str | None = field(default=None, metadata={
        "help": "training CSV / JSON lines file with video and label columns"})
    validation_file: str | None = field(default=None, metadata={
        "help": "validation CSV / JSON lines file with video and label columns"})
    video_column_name: str = field(default="video", metadata={
        "help": "column holding video paths (or datasets.Video values)"})
    label_column_name: str = field(default="label", metadata={
        "help": "column holding class names, indices or a ClassLabel"})
    class_names_file: str | None = field(default=None, metadata={
        "help": 'class names for integer labels: JSON {"0": "abseiling", ...} or a list, or one name per line'})

    def given(self) -> bool:
        """Whether any source flag is set (own data instead of a protocol)."""
        return any(getattr(self, name) for name in SOURCE_FLAGS)

    def to_kwargs(self) -> dict[str, Any]:
        return asdict(self)


def add_data_arguments(parser: argparse.ArgumentParser, *, train: bool = True) -> argparse.ArgumentParser:
    """Add the `VideoDataArguments` flags to an argparse parser (``train=False``: validation flags only)."""
    group = parser.add_argument_group("own data (instead of --protocol)")
    for item in fields(VideoDataArguments):
        if not train and item.name.startswith("train_"):
            continue
        group.add_argument(f"--{item.name}", default=item.default, help=item.metadata["help"])
    return parser


# --------------------------------------------------------------------------------------------------- loading
def resolve_data(protocol: str | None = None, *, cache_dir: str | os.PathLike | None = None,
                 protocol_params: dict | None = None, **own_data) -> ProtocolData:
    """Own data when any of `SOURCE_FLAGS` is given in ``own_data`` (the `load_video_classification_data`
    keywords), else the registered ``protocol`` (with ``protocol_params``)."""
    if any(own_data.get(name) for name in SOURCE_FLAGS):
        if protocol is not None:
            logger.info("Own data given (%s): protocol %r is not used.",
                        ", ".join(f"--{n}" for n in SOURCE_FLAGS if own_data.get(n)), protocol)
        return load_video_classification_data(cache_dir=cache_dir, **own_data)
    if protocol is None:
        raise ValueError("No data: give a protocol name or your own data (--dataset_name, --train_dir / "
                         "--validation_dir, or --train_file / --validation_file).")
    return load_protocol(protocol, cache_dir=cache_dir, **(protocol_params or {}))


def load_video_classification_data(*, dataset_name: str | None = None, dataset_config_name: str | None = None,
                                   train_dir: str | os.PathLike | None = None,
                                   validation_dir: str | os.PathLike | None = None,
                                   train_file: str | os.PathLike | None = None,
                                   validation_file: str | os.PathLike | None = None,
                                   video_column_name: str = "video", label_column_name: str = "label",
                                   class_names_file: str | os.PathLike | None = None,
                                   cache_dir: str | os.PathLike | None = None, name: str | None = None
                                   ) -> ProtocolData:
    """The user's videos as a one-split `ProtocolData` (see the module docstring for the sources and columns).

    Returns ``ProtocolData(name, [ProtocolSplit("split1", train or None, {"test": validation} or {})])``; ``name``
    defaults to the dataset name, folder name or file stem of the validation source (else the training one).
    """
    given = {flag: value for flag, value in (("dataset_name", dataset_name), ("train_dir", train_dir),
                                              ("validation_dir", validation_dir), ("train_file", train_file),
                                              ("validation_file", validation_file)) if value}
    if not given:
        raise ValueError("No own data given: pass dataset_name, train_dir / validation_dir, or train_file / "
                         "validation_file.")
    conflicts = [("dataset_name", flag) for flag in given if flag != "dataset_name" and "dataset_name" in given]
    conflicts += [(f"{side}_dir", f"{side}_file") for side in ("train", "validation")
                  if f"{side}_dir" in given and f"{side}_file" in given]
    if conflicts:
        pairs = "; ".join(f"--{a} and --{b}" for a, b in conflicts)
        raise ValueError(f"Conflicting data sources: {pairs}. Give one source per side: --dataset_name alone, or "
                         "--train_dir/--train_file for training and --validation_dir/--validation_file for validation.")
    class_names = read_class_names(class_names_file) if class_names_file else None
    columns = _Columns(video_column_name, label_column_name)

    if dataset_name:
        train, validation = _from_datasets(str(dataset_name), dataset_config_name, columns, class_names, cache_dir)
    else:
        train, validation = _from_files(given, columns, class_names)
    source = next(given[flag] for flag in ("dataset_name", "validation_dir", "validation_file", "train_dir",
                                           "train_file") if flag in given)
    local = "dataset_name" not in given or os.path.isdir(str(dataset_name))
    if name is None and not local:
        name = str(source)  # a Hub id
    elif name is None:
        path = Path(str(source))
        name = path.stem if path.is_file() else os.path.basename(os.path.normpath(str(path)))
    root = os.path.abspath(str(source)) if local else None
    split = ProtocolSplit(name="split1", train=train, eval={} if validation is None else {"test": validation})
    params = {flag: str(value) for flag, value in given.items()}
    params.update(video_column_name=video_column_name, label_column_name=label_column_name)
    if dataset_config_name:
        params["dataset_config_name"] = dataset_config_name
    if class_names_file:
        params["class_names_file"] = str(class_names_file)
    return ProtocolData(name=name, splits=[split], root=root, params=params)


# ---------------------------------------------------------------------------------------------------- helpers
def _from_files(given: dict, columns: _Columns, class_names: list[str] | None):
    """(train, validation) datasets (or None) from videofolders and CSV / JSON lines files."""
    tables = {}
    for side in ("train", "validation"):
        if given.get(f"{side}_dir"):
            tables[side] = _scan_videofolder(Path(given[f"{side}_dir"]))
        elif given.get(f"{side}_file"):
            tables[side] = _read_table_file(Path(given[f"{side}_file"]), columns)
    if class_names is None:
        with_indices = [table.source for table in tables.values() if any(isinstance(x, int) for x in table.labels)]
        if with_indices:
            raise ValueError(f"{with_indices[0]}: column {columns.label!r} holds integer class indices but no class "
                             "names were given; pass class_names_file (JSON {\"0\": \"abseiling\", ...}) or write "
                             "class names in the label column.")
        class_names = sorted({natural_class_name(label) for table in tables.values() for label in table.labels})
    built = {side: table.to_dataset(class_names, columns) for side, table in tables.items()}
    return built.get("train"), built.get("validation")


@dataclass
class _Columns:
    video: str
    label: str


@dataclass
class _Table:
    """Rows read from one source: video paths, labels (names or int indices), extra columns."""

    source: str
    videos: list[str]
    labels: list[Any]
    extra: dict[str, list] = field(default_factory=dict)

    def to_dataset(self, class_names: Sequence[str], columns: _Columns):
        import datasets

        indices = _label_indices(self.labels, class_names, self.source, columns.label)
        _check_videos_exist(self.videos, self.source, columns.video)
        extra_features = datasets.Dataset.from_dict(self.extra).features if self.extra else {}
        features = datasets.Features({"video": video_feature(),
                                      "label": datasets.ClassLabel(names=list(class_names)), **extra_features})
        return datasets.Dataset.from_dict({"video": self.videos, "label": indices, **self.extra}, features=features)


def read_class_names(path: str | os.PathLike) -> list[str]:
    """JSON ``{"0": "abseiling", ...}`` or ``["abseiling", ...]``, or a text file with one name per line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"class_names_file {str(path)!r} does not exist.")
    text = path.read_text()
    if path.suffix == ".json":
        content = json.loads(text)
        if isinstance(content, dict):
            try:
                order = sorted(content, key=int)
            except ValueError:
                raise ValueError(f"{path}: keys must be class indices (\"0\", \"1\", ...), got {list(content)[:3]}."
                                 ) from None
            if [int(key) for key in order] != list(range(len(order))):
                raise ValueError(f"{path}: class indices must run 0..{len(order) - 1} without gaps.")
            names = [content[key] for key in order]
        elif isinstance(content, list):
            names = content
        else:
            raise ValueError(f"{path}: expected a JSON object {{\"0\": \"name\"}} or a list of names.")
    else:
        names = [line for line in text.splitlines() if line.strip()]
    names = [natural_class_name(name) for name in names]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if not names or duplicates:
        problem = f"repeats class names {duplicates!r}" if duplicates else "has no class names"
        raise ValueError(f"{path}: {problem}; list each class once.")
    return names


def _label_indices(labels: Sequence[Any], class_names: Sequence[str], source: str, column: str) -> list[int]:
    lookup = {name: index for index, name in enumerate(class_names)}
    indices, bad = [], []
    for row, label in enumerate(labels):
        if isinstance(label, int):
            index = label if 0 <= label < len(class_names) else None
        else:
            index = lookup.get(natural_class_name(label))
        if index is None:
            bad.append((row, label))
        indices.append(index)
    if bad:
        shown = ", ".join(f"row {row}: {label!r}" for row, label in bad[:_MAX_NAMED])
        raise ValueError(f"{source}: {len(bad)} label(s) in column {column!r} are not in the class list ({shown}). "
                         f"The {len(class_names)} classes are {list(class_names)[:8]}"
                         f"{' ...' if len(class_names) > 8 else ''}; "
                         "fix the labels, or list every class in class_names_file (indices count from 0).")
    return indices


def _check_videos_exist(paths: Sequence[str], source: str, column: str) -> None:
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        shown = ", ".join(repr(path) for path in missing[:_MAX_NAMED])
        raise ValueError(f"{source}: {len(missing)} of {len(paths)} videos in column {column!r} do not exist, e.g. "
                         f"{shown}. Relative paths resolve against the data file's folder; fix the paths or drop "
                         "those rows.")


def _scan_videofolder(directory: Path) -> _Table:
    if not directory.is_dir():
        raise ValueError(f"{directory}: the videofolder does not exist; pass a folder with one sub-folder of "
                         "videos per class.")
    classes = sorted(entry for entry in directory.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    videos, labels, others = [], [], []
    for folder in classes:
        found, skipped = scan_video_files(folder)
        videos.extend(str(path.resolve()) for path in found)
        labels.extend(natural_class_name(folder.name) for _ in found)
        others.extend(skipped)
    if others:
        logger.warning(skipped_files_line(others, directory, "to use such files, list them in a CSV (--train_file / "
                                          "--validation_file, video,label rows) or convert them to .mp4."))
    if not videos:
        loose = [p.name for p in directory.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS][:_MAX_NAMED]
        hint = f" It holds videos directly ({', '.join(loose)}, ...): move them into class folders." if loose else ""
        raise ValueError(f"{directory}: empty videofolder, no videos ({'/'.join(VIDEO_EXTENSIONS)}) in class "
                         f"sub-folders ({len(classes)} found). Lay it out as <dir>/<class name>/<video>.{hint}")
    empty = [folder.name for folder in classes if natural_class_name(folder.name) not in set(labels)]
    if empty:
        logger.warning("%s: class folder(s) without videos: %s", directory, ", ".join(empty))
    return _Table(source=str(directory), videos=videos, labels=labels)


def _read_table_file(path: Path, columns: _Columns) -> _Table:
    if not path.is_file():
        raise ValueError(f"{path}: the data file does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        import pandas as pd

        try:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path}: the file is empty; write a header `{columns.video},{columns.label}` and one "
                             "row per video.") from None
        if frame.empty:
            raise ValueError(f"{path}: the file has a header ({', '.join(map(str, frame.columns))}) but no rows; add "
                             f"one row per video ({columns.video},{columns.label}).")
        rows = frame.to_dict(orient="list")
    elif suffix in (".json", ".jsonl"):
        rows = _read_json_rows(path)
    else:
        raise ValueError(f"{path}: unsupported data file type {suffix!r}; use .csv, .tsv, .jsonl or .json "
                         "(JSON lines).")
    for flag, column in (("video_column_name", columns.video), ("label_column_name", columns.label)):
        if column not in rows:
            raise ValueError(f"{path}: no column {column!r}; the columns are {list(rows)}. Rename the column or pass "
                             f"--{flag} with one of them.")
    _check_output_names(list(rows), columns, str(path))
    labels = [_clean_label(value, row, path, columns.label) for row, value in enumerate(rows[columns.label])]
    base = path.resolve().parent
    videos = []
    for row, value in enumerate(rows[columns.video]):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{path}: row {row} has no video path in column {columns.video!r}.")
        videos.append(str(base / os.path.expanduser(value.strip())))
    extra = {key: values for key, values in rows.items() if key not in (columns.video, columns.label)}
    return _Table(source=str(path), videos=videos, labels=labels, extra=extra)


def _read_json_rows(path: Path) -> dict[str, list]:
    text = path.read_text()
    try:
        records = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON lines ({error}); write one object per line, "
                         "e.g. {\"video\": \"a.mp4\", \"label\": \"archery\"}.") from None
    if not records or not all(isinstance(record, dict) for record in records):
        raise ValueError(f"{path}: expected one JSON object per line with video and label fields.")
    keys = list(dict.fromkeys(key for record in records for key in record))
    return {key: [record.get(key) for record in records] for key in keys}


def _clean_label(value, row: int, path: Path, column: str):
    if isinstance(value, bool) or value is None or (isinstance(value, float) and value != value):
        raise ValueError(f"{path}: row {row} has no label in column {column!r}.")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value if isinstance(value, int) else str(value)


def _check_output_names(present: Sequence[str], columns: _Columns, source: str) -> None:
    for output, column, flag in (("video", columns.video, "video_column_name"),
                                 ("label", columns.label, "label_column_name")):
        if column != output and output in present:
            raise ValueError(f"{source}: column {output!r} exists but --{flag} is {column!r}; the output column "
                             f"{output!r} would overwrite it. Rename one of them.")


def _load_datasets(dataset_name: str, config_name: str | None, cache_dir):
    import datasets

    if os.path.isdir(dataset_name) and (os.path.isfile(os.path.join(dataset_name, "dataset_dict.json"))
                                        or os.path.isfile(os.path.join(dataset_name, "state.json"))):
        loaded = datasets.load_from_disk(dataset_name)
    else:
        loaded = datasets.load_dataset(dataset_name, config_name,
                                       cache_dir=None if cache_dir is None else str(cache_dir))
    if not isinstance(loaded, datasets.DatasetDict):
        raise ValueError(f"{dataset_name}: a single Dataset was found; save a DatasetDict with a 'train' and/or a "
                         f"'validation' split (e.g. DatasetDict(validation=ds).save_to_disk(path)).")
    return loaded


def _from_datasets(dataset_name: str, config_name: str | None, columns: _Columns, class_names, cache_dir):
    import datasets

    loaded = _load_datasets(dataset_name, config_name, cache_dir)
    validation_key = next((key for key in VALIDATION_SPLIT_NAMES if key in loaded), None)
    picked = {"train": "train" if "train" in loaded else None, "validation": validation_key}
    if not any(picked.values()):
        raise ValueError(f"{dataset_name}: no 'train' or {'/'.join(VALIDATION_SPLIT_NAMES)} split; the splits are "
                         f"{list(loaded)}. Rename the splits.")
    splits = {side: loaded[key] for side, key in picked.items() if key}
    first = next(iter(splits.values()))
    for flag, column in (("video_column_name", columns.video), ("label_column_name", columns.label)):
        for side, dataset in splits.items():
            if column not in dataset.column_names:
                raise ValueError(f"{dataset_name} ({picked[side]} split): no column {column!r}; the columns are "
                                 f"{dataset.column_names}. Pass --{flag} with one of them.")
    for side, dataset in splits.items():
        _check_output_names(dataset.column_names, columns, f"{dataset_name} ({picked[side]} split)")
    label_feature = first.features[columns.label]
    raw_names = getattr(label_feature, "names", None)
    if class_names is None:
        if raw_names:
            class_names = [natural_class_name(name) for name in raw_names]
        else:
            values = {value for dataset in splits.values() for value in dataset[columns.label]}
            if any(isinstance(value, int) for value in values):
                raise ValueError(f"{dataset_name}: column {columns.label!r} holds integer indices without class names; "
                                 "cast it to datasets.ClassLabel(names=[...]) or pass class_names_file.")
            class_names = sorted({natural_class_name(value) for value in values})
    base = Path(dataset_name) if os.path.isdir(dataset_name) else None
    video_cache = Path(cache_dir) / "videos" if cache_dir is not None else Path(default_video_cache_dir())
    out = {}
    for side, dataset in splits.items():
        source = f"{dataset_name} ({picked[side]} split)"
        names = getattr(dataset.features[columns.label], "names", None)
        labels = [names[value] if names else value for value in dataset[columns.label]]
        indices = _label_indices(labels, class_names, source, columns.label)
        videos = _dataset_video_paths(dataset, columns.video, base, video_cache, source)
        _check_videos_exist(videos, source, columns.video)
        features = datasets.Features({"video": video_feature(),
                                      "label": datasets.ClassLabel(names=list(class_names))})
        built = datasets.Dataset.from_dict({"video": videos, "label": indices}, features=features)
        extra = [column for column in dataset.column_names if column not in (columns.video, columns.label)]
        if extra:  # kept with their own features
            built = datasets.concatenate_datasets([built, dataset.select_columns(extra)], axis=1)
        out[side] = built
    return out.get("train"), out.get("validation")


def _dataset_video_paths(dataset, column: str, base: Path | None, video_cache: Path, source: str) -> list[str]:
    """Paths of a column of str paths or `datasets.Video` values; embedded bytes are written to `video_cache`."""
    import datasets

    feature = dataset.features[column]
    if isinstance(feature, datasets.Video):
        dataset = dataset.cast_column(column, datasets.Video(decode=False))
    paths = []
    for batch in dataset.select_columns([column]).iter(batch_size=64):
        for value in batch[column]:
            path, data = (value.get("path"), value.get("bytes")) if isinstance(value, dict) else (value, None)
            if path and not os.path.isabs(path) and base is not None and os.path.isfile(base / path):
                path = str(base / path)
            if data is not None and not (path and os.path.isfile(path)):
                path = _write_video_bytes(data, path, video_cache)
            if not isinstance(path, str) or not path:
                raise ValueError(f"{source}: a row of column {column!r} holds neither a video path nor video bytes "
                                 f"({type(value).__name__}).")
            paths.append(os.path.abspath(path) if os.path.isfile(path) else path)
    return paths


def _write_video_bytes(data: bytes, name: str | None, directory: Path) -> str:
    suffix = Path(name).suffix.lower() if name else ""
    target = directory / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix or '.mp4'}"
    if not target.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".tmp-{uuid.uuid4().hex[:8]}{target.suffix}"
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return str(target)


__all__ = ["SOURCE_FLAGS", "VIDEO_EXTENSIONS", "VideoDataArguments", "add_data_arguments",
           "default_video_cache_dir", "load_video_classification_data", "natural_class_name", "resolve_data",
           "scan_video_files", "skipped_files_line"]
