"""Video lists in the community format of the published code (mmaction2, PySlowFast, ViFi-CLIP, FROSTER).

```python
from hfvideoclip.data.datasets import build_from_list
val = build_from_list("k400_val.txt", "k400_classes.json", data_dir="/data/kinetics")
```
A list has one video per line, ``<path> <label>`` or ``<path>,<label>`` (a line ``path,label`` / ``video label``
first is a header and skipped). The label is an integer id, or a class name (made natural
with `natural_class_name`). Comma lines split at the last comma, so names may contain spaces there.

The class-name file (`read_class_names`): JSON ``{"0": "abseiling", ...}``, ``{"abseiling": "0"}`` or a list; CSV
``id,name``; or text, one name per line or ``<id> <name>`` lines (``classInd.txt``). Integer labels are its ids
(counted from its first id: 0, or 1 for ``classInd.txt``). Without a class-name file the labels must be names, and
the classes are their sorted set.

Paths are relative to ``data_dir`` (default: the list's folder) or absolute. A relative path that is not there is
looked up by its file name anywhere under ``data_dir`` (the cached index), so lists written for another layout
still work. Lists of frame folders (``<folder> <num_frames> <label>``) are not video lists and are refused.
Columns: ``video``, ``label``.
"""

from __future__ import annotations

import os

from ..own_data import natural_class_name
from .common import (
    DEFAULT_NUM_SHARDS,
    Row,
    assemble,
    check_class_names,
    load_index,
    parse_int,
    read_class_names,
    read_lines,
)

_HEADER_LABELS = {"label", "labels", "class", "class_id", "label_id", "target", "category"}


def build_from_list(list_file: str | os.PathLike, class_names_file: str | os.PathLike | None = None,
                    data_dir: str | os.PathLike | None = None, *, streaming: bool = False,
                    num_shards: int = DEFAULT_NUM_SHARDS, cache_dir: str | os.PathLike | None = None,
                    return_report: bool = False, name: str | None = None):
    """The videos of a community-format list as a `datasets.Dataset` (see the module docstring).

    Args:
        list_file: the list, ``<path> <label>`` or ``<path>,<label>`` per line.
        class_names_file: the class names (needed when labels are integer ids).
        data_dir: the folder the paths are relative to and the videos are looked up in (default: the list's folder).
        name: what the `BuildReport` and messages call the dataset (default ``"list <file name>"``).
        streaming, num_shards, cache_dir, return_report: as in `build_kinetics`.
    """
    list_file = os.path.abspath(os.fspath(list_file))
    if not os.path.isfile(list_file):
        raise ValueError(f"list_file {list_file!r} does not exist.")
    data_dir = os.path.dirname(list_file) if data_dir is None else data_dir
    dataset = name or f"list {os.path.basename(list_file)}"
    index = load_index(data_dir, cache_dir=cache_dir)
    entries = _read_list(list_file)
    if class_names_file is not None:
        class_names, first_id = read_class_names(class_names_file)
    else:
        with_ids = [(number, label) for number, _, label in entries if isinstance(label, int)]
        if with_ids:
            raise ValueError(f"{list_file}, line {with_ids[0][0]}: label {with_ids[0][1]} is a class id but no "
                             "class_names_file was given; pass one (JSON {\"0\": \"abseiling\", ...} or one name per "
                             "line), or write class names in the list.")
        class_names, first_id = check_class_names(sorted({label for _, _, label in entries}), list_file), 0
    lookup = {class_name: i for i, class_name in enumerate(class_names)}
    source = str(class_names_file) if class_names_file is not None else "the list's labels"
    rows = []
    for number, path, label in entries:
        if isinstance(label, int):
            if not 0 <= label - first_id < len(class_names):
                raise ValueError(f"{list_file}, line {number}: class id {label} is outside {source}'s ids "
                                 f"{first_id}..{first_id + len(class_names) - 1}; fix the id or the class-name file.")
            label_id = label - first_id
        elif label in lookup:
            label_id = lookup[label]
        else:
            raise ValueError(f"{list_file}, line {number}: class {label!r} is not in {source} ({len(class_names)} "
                             f"classes, e.g. {class_names[:3]}); fix the name or add the class.")
        rows.append(_row(path, label_id, index))
    return assemble(rows, class_names=class_names, meta_features={}, index=index, dataset=dataset,
                    annotation_files=[list_file], streaming=streaming, num_shards=num_shards,
                    return_report=return_report)


def _read_list(path: str) -> list[tuple[int, str, int | str]]:
    """``(line number, path, label)``; the label an int id or a natural class name."""
    entries = []
    for number, text in read_lines(path):
        words = text.split()
        if len(words) == 3 and parse_int(words[1]) is not None and parse_int(words[2]) is not None:
            raise ValueError(f"{path}, line {number}: {text!r} has three fields (folder, frame count, label): a list "
                             "of extracted frame folders. Give a list of video files, `<path> <label>` per line.")
        if len(words) >= 2 and parse_int(words[-1]) is not None:
            video, label = text.rsplit(None, 1)
        elif "," in text:
            video, label = text.rsplit(",", 1)
        elif len(words) >= 2:
            video, label = text.rsplit(None, 1)
        else:
            raise ValueError(f"{path}, line {number}: {text!r} has no label; write `<path> <label>` or "
                             "`<path>,<label>` (label: class id or name).")
        video, label = video.strip(), label.strip()
        if not entries and label.lower() in _HEADER_LABELS:
            continue  # a header line
        if not video or not label:
            raise ValueError(f"{path}, line {number}: {text!r}: empty path or label; write `<path> <label>`.")
        class_id = parse_int(label)
        entries.append((number, video, class_id if class_id is not None else natural_class_name(label)))
    if not entries:
        raise ValueError(f"{path}: no videos listed; write `<path> <label>` per line.")
    return entries


def _row(listed: str, label: int, index) -> Row:
    """Absolute paths as they are; a relative one at ``data_dir/path`` when it is there and its name is not unique
    (or not indexed), else by file name through the index."""
    name = os.path.basename(listed.replace("\\", "/"))
    if os.path.isabs(listed):
        return Row(names=[], label=label, listed=listed, path=listed if os.path.isfile(listed) else None)
    if name in index.videos and name not in index.duplicates:
        return Row(names=[name], label=label, listed=listed)
    joined = os.path.join(index.root, listed)
    return Row(names=[name], label=label, listed=listed, path=joined if os.path.isfile(joined) else None)
