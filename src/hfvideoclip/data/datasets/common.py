"""What the dataset builders share: the cached file index of a ``data_dir``, finding annotation files, class-name
files, and turning annotation rows into a `datasets.Dataset` / `datasets.IterableDataset` with a `BuildReport`.

The index. Videos are found by file name at any depth under ``data_dir``, so an official archive layout
(``UCF-101/ApplyEyeMakeup/v_...avi``), class folders and a flat folder all work. One walk of the tree records every
video (`VIDEO_EXTENSIONS`) and every annotation-like file (`ANNOTATION_EXTENSIONS`) by name, and the modification
time of every directory it entered. The index is written as JSON to ``<cache_dir>/index-<hash of data_dir>.json``
(default cache: ``$HFVIDEOCLIP_CACHE/datasets``, else ``~/.cache/hfvideoclip/datasets``) and kept in memory; a
later build re-reads it after one ``stat`` per recorded directory (adding, removing or renaming a file changes its
directory's mtime), and walks the tree again only when one of them changed or ``refresh=True``. Hidden files and
folders (names starting with ``.``) are skipped; keep ``cache_dir`` outside ``data_dir`` (or in a hidden folder), or
writing the index changes a folder's mtime and the next build walks again. When two files share a name, the first in sorted walk order is
the one found by name (`BuildReport.num_duplicates` counts such names among the rows).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..own_data import VIDEO_EXTENSIONS, natural_class_name
from ..video_column import video_feature

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
"""Part of the index file's content: an index written by another version is rebuilt."""
ANNOTATION_EXTENSIONS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".lst")
"""Files the index also records by name, so the builders find annotation files at any depth."""
DEFAULT_NUM_SHARDS = 64
"""Shards of a streamed dataset (fewer for fewer rows): divisible by the usual world sizes and worker counts, so
`datasets.distributed.split_dataset_by_node` hands whole shards to each rank and the DataLoader to each worker."""
_SHOWN = 3  # examples named in a message

_MEMO: dict[str, _Index] = {}


# -------------------------------------------------------------------------------------------------- reports
@dataclass
class BuildReport:
    """What a build found. ``missing`` lists the videos named in the annotation files but absent under
    ``data_dir`` (as the annotation names them); their rows are left out of the dataset.

    Attributes:
        dataset: what was built, e.g. ``"ucf101 split1 test"``.
        annotation_files: the files the rows came from.
        data_dir: where the videos were looked for.
        num_listed: rows in the annotation files for this subset.
        missing: the listed videos not found.
        num_duplicates: rows whose file name occurs more than once under ``data_dir`` (the first was taken).
    """

    dataset: str
    annotation_files: list[str]
    data_dir: str
    num_listed: int
    missing: list[str] = field(default_factory=list)
    num_duplicates: int = 0

    @property
    def num_missing(self) -> int:
        return len(self.missing)

    @property
    def num_rows(self) -> int:
        """Rows in the built dataset: ``num_listed - num_missing``."""
        return self.num_listed - self.num_missing


# ---------------------------------------------------------------------------------------------------- index
@dataclass
class _Index:
    root: str
    videos: dict[str, str]  # file name -> absolute path
    files: dict[str, list[str]]  # annotation-like file name -> absolute paths
    duplicates: set[str]  # video names found more than once
    dirs: dict[str, int]  # directory relative to root -> st_mtime_ns when it was listed


def default_index_cache_dir() -> str:
    """``$HFVIDEOCLIP_CACHE/datasets`` if the variable is set, else ``~/.cache/hfvideoclip/datasets``."""
    root = os.environ.get("HFVIDEOCLIP_CACHE") or os.path.join("~", ".cache", "hfvideoclip")
    return os.path.join(os.path.expanduser(root), "datasets")


def find_videos(data_dir: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
                refresh: bool = False) -> dict[str, str]:
    """Every video under ``data_dir`` at any depth: ``{file name: absolute path}``.

    Built once and cached (see the module docstring); ``refresh=True`` walks the tree again.
    """
    return dict(load_index(data_dir, cache_dir=cache_dir, refresh=refresh).videos)


def load_index(data_dir: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
               refresh: bool = False) -> _Index:
    """The cached `_Index` of ``data_dir`` (videos and annotation-like files by name)."""
    root = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    if not os.path.isdir(root):
        raise ValueError(f"data_dir {root!r} is not a directory; pass the folder that holds the dataset's videos "
                         "(at any depth) and its annotation files.")
    cache_root = (os.path.abspath(os.path.expanduser(os.fspath(cache_dir))) if cache_dir is not None
                  else default_index_cache_dir())
    cache_file = os.path.join(cache_root, f"index-{hashlib.sha256(root.encode()).hexdigest()[:16]}.json")
    if not refresh:
        index = _MEMO.get(cache_file)
        if index is None:
            index = _read_index(cache_file, root)
        if index is not None and _unchanged(index):
            _MEMO[cache_file] = index
            return index
    start = time.perf_counter()
    index = _scan_tree(root)
    logger.info("Indexed %s: %d videos in %d folders (%.1f s).", root, len(index.videos), len(index.dirs),
                time.perf_counter() - start)
    _write_index(cache_file, index)
    _MEMO[cache_file] = index
    return index


def _scan_tree(root: str) -> _Index:
    """Walk ``root`` (symlinks followed, each real directory once, sorted, hidden names skipped)."""
    videos: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    duplicates: set[str] = set()
    dirs: dict[str, int] = {}
    seen: set[str] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        try:
            mtime = os.stat(directory).st_mtime_ns  # before listing: a change while listing is seen next time
            with os.scandir(directory) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name)
        except OSError as error:
            logger.warning("Cannot list %s (%s); videos inside it are not indexed.", directory, error)
            continue
        dirs[os.path.relpath(directory, root)] = mtime
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    subdirs.append(entry.path)
                    continue
                if not entry.is_file():  # broken links, sockets
                    continue
            except OSError:
                continue
            extension = os.path.splitext(entry.name)[1].lower()
            if extension in VIDEO_EXTENSIONS:
                if entry.name in videos:
                    duplicates.add(entry.name)
                else:
                    videos[entry.name] = entry.path
            elif extension in ANNOTATION_EXTENSIONS:
                files.setdefault(entry.name, []).append(entry.path)
        stack.extend(reversed(subdirs))
    return _Index(root=root, videos=videos, files=files, duplicates=duplicates, dirs=dirs)


def _unchanged(index: _Index) -> bool:
    for relative, mtime in index.dirs.items():
        try:
            if os.stat(os.path.join(index.root, relative)).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return True


def _read_index(cache_file: str, root: str) -> _Index | None:
    try:
        with open(cache_file, encoding="utf-8") as handle:
            stored = json.load(handle)
        if stored.get("version") != INDEX_VERSION or stored.get("root") != root:
            return None
        join = os.path.join
        return _Index(root=root, videos={name: join(root, rel) for name, rel in stored["videos"].items()},
                      files={name: [join(root, rel) for rel in rels] for name, rels in stored["files"].items()},
                      duplicates=set(stored["duplicates"]), dirs={k: int(v) for k, v in stored["dirs"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_index(cache_file: str, index: _Index) -> None:
    root = index.root
    stored = {"version": INDEX_VERSION, "root": root, "dirs": index.dirs,
              "videos": {name: os.path.relpath(path, root) for name, path in index.videos.items()},
              "files": {name: [os.path.relpath(path, root) for path in paths] for name, paths in index.files.items()},
              "duplicates": sorted(index.duplicates)}
    directory = os.path.dirname(cache_file)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex[:8]}.json")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
        os.replace(tmp, cache_file)
    except OSError as error:
        logger.warning("Could not write the video index of %s to %s (%s); the next build walks the folder again. "
                       "Pass a writable cache_dir.", root, cache_file, error)
        try:
            os.remove(tmp)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------- annotations
def annotation_index(data_dir, annotation_dir, cache_dir) -> _Index:
    """The index annotation files are looked up in: ``annotation_dir``'s if given, else ``data_dir``'s."""
    return load_index(annotation_dir if annotation_dir is not None else data_dir, cache_dir=cache_dir)


def find_annotation(index: _Index, names: Sequence[str], what: str, hint: str, prefer: str | None = None) -> str:
    """The path of the first of ``names`` present in ``index`` (at any depth).

    Several files of that name: those whose path below the root matches the regex ``prefer``, if that leaves one;
    otherwise ValueError listing them.
    """
    for name in names:
        paths = index.files.get(name, [])
        if len(paths) > 1 and prefer is not None:
            paths = [p for p in paths if re.search(prefer, os.path.relpath(p, index.root))] or paths
        if len(paths) == 1:
            return paths[0]
        if paths:
            shown = ", ".join(repr(p) for p in paths[:_SHOWN])
            raise ValueError(f"{what}: {len(paths)} files named {name!r} under {index.root} ({shown}). Pass "
                             "annotation_dir= with the folder of the one to use.")
    raise ValueError(f"{what}: none of {list(names)} found under {index.root} (searched at any depth). {hint} "
                     "Pass annotation_dir= if the annotation files are elsewhere.")


def read_lines(path: str) -> list[tuple[int, str]]:
    """``(line number from 1, stripped text)`` of the non-empty lines (any line ending, BOM removed)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error}); re-save the file as UTF-8.") from None
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_json(path: str):
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: not valid JSON ({error.msg}); restore the file from the "
                         "dataset's archive.") from None


def parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def read_class_names(path: str | os.PathLike) -> tuple[list[str], int]:
    """Class names in id order (natural, `natural_class_name`) and the first id, from

    - JSON ``{"0": "abseiling", ...}`` (ids to names), ``{"abseiling": 0, ...}`` (names to ids, as SSv2's
      ``labels.json``) or ``["abseiling", ...]``;
    - CSV with a header naming an id column (``id``, ``label``, ``index``) and a ``name`` column (ViFi-CLIP's
      ``k400_labels.csv``);
    - text with ``<id> <name>`` on every line (UCF-101's ``classInd.txt``), else one name per line.

    Ids must be consecutive integers; their first value (0, or 1 for ``classInd.txt``) is what integer labels
    count from. ValueError naming the file and the line for anything else.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"class names file {path!r} does not exist.")
    pairs: list[tuple[int | None, str, str]]  # (id, name, where)
    if path.lower().endswith(".json"):
        content = read_json(path)
        if isinstance(content, list):
            pairs = [(None, str(name), f"entry {i}") for i, name in enumerate(content)]
        elif isinstance(content, dict):
            keys_are_ids = all(parse_int(str(key)) is not None for key in content)
            values_are_ids = all(parse_int(str(value)) is not None for value in content.values())
            if keys_are_ids:
                pairs = [(parse_int(str(key)), str(value), f"key {key!r}") for key, value in content.items()]
            elif values_are_ids:
                pairs = [(parse_int(str(value)), str(key), f"key {key!r}") for key, value in content.items()]
            else:
                raise ValueError(f"{path}: a JSON object must map class ids to names ({{\"0\": \"abseiling\"}}) or "
                                 "names to ids ({\"abseiling\": \"0\"}).")
        else:
            raise ValueError(f"{path}: expected a JSON list of names or an object of ids and names.")
    elif path.lower().endswith(".csv"):
        pairs = _read_class_csv(path)
    else:
        lines = read_lines(path)
        with_ids = [re.fullmatch(r"(\d+)[\s,;:]+(.+)", text) for _, text in lines]
        if lines and all(with_ids):
            pairs = [(int(m.group(1)), m.group(2), f"line {n}") for m, (n, _) in zip(with_ids, lines)]
        else:
            pairs = [(None, text, f"line {n}") for n, text in lines]
    if not pairs:
        raise ValueError(f"{path}: no class names; write one name per line or JSON {{\"0\": \"abseiling\"}}.")
    if pairs[0][0] is None:
        names, first = [name for _, name, _ in pairs], 0
    else:
        ordered = sorted(pairs, key=lambda pair: pair[0])
        first = ordered[0][0]
        for expected, (class_id, _, where) in enumerate(ordered, start=first):
            if class_id != expected:
                raise ValueError(f"{path}, {where}: class id {class_id} breaks the sequence {first}, {first + 1}, "
                                 f"...; expected {expected}. Number the classes without gaps or repeats.")
        names = [name for _, name, _ in ordered]
    return check_class_names([natural_class_name(name) for name in names], path), first


def _read_class_csv(path: str) -> list[tuple[int | None, str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0][1]]
    id_column = next((header.index(key) for key in ("id", "label", "index", "class_id") if key in header), None)
    name_column = next((header.index(key) for key in ("name", "class", "class_name", "label_name") if key in header),
                       None)
    if name_column is None:  # no header: one name per row
        return [(None, row[0].strip(), f"line {number}") for number, row in rows]
    pairs = []
    for number, row in rows[1:]:
        if len(row) <= max(name_column, id_column or 0):
            raise ValueError(f"{path}, line {number}: {len(row)} field(s), expected the columns {rows[0][1]}.")
        class_id = None
        if id_column is not None:
            class_id = parse_int(row[id_column])
            if class_id is None:
                raise ValueError(f"{path}, line {number}: id {row[id_column]!r} is not an integer.")
        pairs.append((class_id, row[name_column].strip(), f"line {number}"))
    return pairs


def check_class_names(names: list[str], source: str) -> list[str]:
    empty = [i for i, name in enumerate(names) if not name]
    if empty:
        raise ValueError(f"{source}: class {empty[0]} has an empty name; name every class.")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{source}: classes {seen[name]} and {i} are both {name!r} (after making names "
                             "natural); list each class once.")
        seen[name] = i
    return names


def normalise_subset(subset: str, allowed: Sequence[str], dataset: str) -> str:
    """``subset`` as one of ``allowed``; ``val``/``validation``/``valid``/``validate`` are one name."""
    aliases = {"val", "validation", "valid", "validate"}
    value = str(subset).strip().lower()
    for name in allowed:
        if value == name or (value in aliases and name in aliases):
            return name
    raise ValueError(f"{dataset}: unknown subset {subset!r}; use one of {list(allowed)}.")


def check_split(split: int, splits: Sequence[int], dataset: str) -> int:
    if isinstance(split, bool) or not isinstance(split, int) or split not in splits:
        raise ValueError(f"{dataset}: split={split!r}; the official splits are {list(splits)}.")
    return split


# ------------------------------------------------------------------------------------------------- building
@dataclass
class Row:
    """One annotation row: the file names its video may have (in order), its label id and metadata."""

    names: Sequence[str]
    label: int
    listed: str  # how the annotation names the video (shown when it is missing)
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # an exact path, tried before the names


def assemble(rows: Sequence[Row], *, class_names: Sequence[str], meta_features: dict, index: _Index,
             dataset: str, annotation_files: Sequence[str], streaming: bool, num_shards: int,
             return_report: bool):
    """Resolve the rows' videos, warn once about missing ones, and build the (streamed) dataset."""
    import datasets

    if not rows:
        raise ValueError(f"{dataset}: {', '.join(annotation_files)} list(s) no videos for this subset; check the "
                         "subset and split, or restore the annotation files from the dataset's archive.")
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards={num_shards!r}: use a positive integer (default {DEFAULT_NUM_SHARDS}).")
    videos = index.videos
    columns: dict[str, list] = {"video": [], "label": [], **{key: [] for key in meta_features}}
    missing, duplicates = [], 0
    for row in rows:
        path = row.path
        if path is None:
            name = next((name for name in row.names if name in videos), None)
            if name is not None:
                path = videos[name]
                duplicates += name in index.duplicates
        if path is None:
            missing.append(row.listed)
            continue
        columns["video"].append(path)
        columns["label"].append(row.label)
        for key in meta_features:
            columns[key].append(row.meta[key])
    report = BuildReport(dataset=dataset, annotation_files=list(annotation_files), data_dir=index.root,
                         num_listed=len(rows), missing=missing, num_duplicates=duplicates)
    if not columns["video"]:
        some = ", ".join(repr(name) for name in missing[:_SHOWN])
        raise ValueError(f"{dataset}: none of the {len(rows)} videos listed in {', '.join(annotation_files)} is under "
                         f"{index.root} (e.g. {some}; the folder holds {len(videos)} videos). Pass the data_dir "
                         "that holds the dataset's videos (any depth).")
    if missing:
        some = ", ".join(missing[:_SHOWN])
        logger.warning("%s: %d of %d listed videos are not under %s and are left out (e.g. %s). Add the files, or "
                       "keep going with %d videos (return_report=True gives the full list).", dataset, len(missing),
                       len(rows), index.root, some, report.num_rows)
    features = datasets.Features({"video": video_feature(),
                                  "label": datasets.ClassLabel(names=list(class_names)), **meta_features})
    info = datasets.DatasetInfo(description=f"{dataset}, built by hfvideoclip from "
                                            f"{', '.join(annotation_files)} and the videos under {index.root}.",
                                features=features)
    built = datasets.Dataset.from_dict(columns, features=features, info=info)
    if streaming:
        built = built.to_iterable_dataset(num_shards=min(num_shards, len(built)))
    return (built, report) if return_report else built


__all__ = ["ANNOTATION_EXTENSIONS", "BuildReport", "DEFAULT_NUM_SHARDS", "default_index_cache_dir", "find_videos",
           "read_class_names"]
