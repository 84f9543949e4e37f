"""Kinetics-400 / -600 / -700 from the official CSV files.

```python
from hfvideoclip.data.datasets import build_kinetics
val = build_kinetics("/data/kinetics", "val", version=400)        # datasets.Dataset: video, label, youtube_id, ...
```
Annotation files, found under ``data_dir`` (or ``annotation_dir``) at any depth, versioned names first:
``kinetics-<version>_<subset>.csv`` (DeepMind's release; also ``kinetics_<version>_...``, ``kinetics<version>_...``,
``k<version>_...``), then ``<subset>.csv`` (the CVDF ``kinetics-dataset`` layout ``k400/annotations/train.csv``;
several of those: the one whose path names the version, e.g. ``k400/``). ``val`` is also looked for as
``validate`` and ``validation``. Each CSV has the header ``label,youtube_id,time_start,time_end,split`` (more
columns such as ``is_cc`` are ignored).

A row's video is ``{youtube_id}_{time_start:06d}_{time_end:06d}`` or just ``{youtube_id}``, with extension
``.mp4``, ``.mkv`` or ``.webm`` (tried in that order), anywhere under ``data_dir``.

Class names are the CSVs' labels (already natural: ``"passing American football (in game)"``), and the class list
is the sorted union of the labels in all of the version's CSVs that are present (train, val, test), so every
subset shares one vocabulary and label ids. A test CSV without labels (Kinetics-600's original test release)
cannot be built.

Columns: ``video``, ``label``, ``youtube_id``, ``time_start``, ``time_end`` (seconds, int), ``split`` (the subset).
"""

from __future__ import annotations

import csv
import os

from ..own_data import natural_class_name
from .common import (
    DEFAULT_NUM_SHARDS,
    Row,
    annotation_index,
    assemble,
    check_class_names,
    find_annotation,
    load_index,
    normalise_subset,
)

VERSIONS = (400, 600, 700)
SUBSETS = ("train", "val", "test")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm")
"""Extensions tried for a Kinetics video, in order (Kinetics-400 val mixes all three)."""
HEADER = ("label", "youtube_id", "time_start", "time_end", "split")
_SUBSET_FILE_NAMES = {"train": ("train",), "val": ("val", "validate", "validation"), "test": ("test",)}


def build_kinetics(data_dir: str | os.PathLike, subset: str = "train", *, version: int = 400,
                   annotation_dir: str | os.PathLike | None = None, streaming: bool = False,
                   num_shards: int = DEFAULT_NUM_SHARDS, cache_dir: str | os.PathLike | None = None,
                   return_report: bool = False):
    """Kinetics-``version`` ``subset`` (``"train"``, ``"val"``, ``"test"``) as a `datasets.Dataset`.

    Args:
        data_dir: folder holding the videos at any depth (and the CSVs, unless ``annotation_dir`` is given).
        subset: ``"train"``, ``"val"`` (or ``"validation"``) or ``"test"``.
        version: 400, 600 or 700.
        annotation_dir: folder holding the CSVs, if not under ``data_dir``.
        streaming: return a `datasets.IterableDataset` of ``num_shards`` shards (split it across ranks with
            `datasets.distributed.split_dataset_by_node`; a DataLoader spreads the shards over its workers).
        num_shards: shards of the streamed dataset (at most one per row).
        cache_dir: where the file index of ``data_dir`` is cached (default `default_index_cache_dir`).
        return_report: also return the `BuildReport` (videos listed but missing, ...): ``(dataset, report)``.
    """
    if version not in VERSIONS:
        raise ValueError(f"Kinetics version={version!r}; use one of {list(VERSIONS)}.")
    subset = normalise_subset(subset, SUBSETS, f"kinetics{version}")
    dataset = f"kinetics{version} {subset}"
    index = load_index(data_dir, cache_dir=cache_dir)
    annotations = annotation_index(data_dir, annotation_dir, cache_dir)
    csv_file = _find_csv(annotations, version, subset, required=True)
    tables = {subset: _read_csv(csv_file, version)}
    for other in SUBSETS:  # the vocabulary: labels of every CSV of this version
        path = _find_csv(annotations, version, other, required=False) if other != subset else None
        if path is not None:
            tables[other] = _read_csv(path, version, labels_required=False)
    if tables[subset] and tables[subset][0]["label"] is None:
        raise ValueError(f"{csv_file}: no 'label' column, so this {subset} set cannot be scored. The Kinetics-"
                         f"{version} {subset} labels were published apart from the original CSV: use a CSV with "
                         f"the header {','.join(HEADER)}, or build 'val' instead.")
    class_names = check_class_names(sorted({record["label"] for table in tables.values() for record in table
                                            if record["label"] is not None}), csv_file)
    lookup = {name: i for i, name in enumerate(class_names)}
    rows = []
    for record in tables[subset]:
        youtube_id, start, end = record["youtube_id"], record["time_start"], record["time_end"]
        stems = (f"{youtube_id}_{start:06d}_{end:06d}", youtube_id)
        rows.append(Row(names=[stem + suffix for stem in stems for suffix in VIDEO_SUFFIXES],
                        label=lookup[record["label"]], listed=stems[0],
                        meta={"youtube_id": youtube_id, "time_start": start, "time_end": end, "split": subset}))
    import datasets

    meta_features = {"youtube_id": datasets.Value("string"), "time_start": datasets.Value("int32"),
                     "time_end": datasets.Value("int32"), "split": datasets.Value("string")}
    return assemble(rows, class_names=class_names, meta_features=meta_features, index=index, dataset=dataset,
                    annotation_files=[csv_file], streaming=streaming, num_shards=num_shards,
                    return_report=return_report)


def _find_csv(index, version: int, subset: str, *, required: bool) -> str | None:
    names = []
    for word in _SUBSET_FILE_NAMES[subset]:
        names += [f"kinetics-{version}_{word}.csv", f"kinetics_{version}_{word}.csv", f"kinetics{version}_{word}.csv",
                  f"k{version}_{word}.csv"]
    names += [f"{word}.csv" for word in _SUBSET_FILE_NAMES[subset]]
    if not required and not any(name in index.files for name in names):
        return None
    return find_annotation(index, names, f"kinetics{version} {subset}",
                           f"Download the Kinetics-{version} annotation CSVs (header {','.join(HEADER)}).",
                           prefer=rf"(?<![0-9]){version}(?![0-9])")


def _read_csv(path: str, version: int, *, labels_required: bool = True) -> list[dict]:
    """The rows of a Kinetics CSV: label (natural name, or None without a label column), youtube_id, times."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        absent = [name for name in ("youtube_id", "time_start", "time_end") if name not in header]
        if absent:
            raise ValueError(f"{path}, line 1: the header {header} lacks {absent}; a Kinetics-{version} CSV starts "
                             f"with the line `{','.join(HEADER)}`. Restore the file from the official release.")
        has_label = "label" in header
        records = []
        for record in reader:
            line = reader.line_num
            if None in record or any(record[name] is None for name in header):
                count = sum(record[name] is not None for name in header) + len(record.get(None) or [])
                raise ValueError(f"{path}, line {line}: {count} fields where the "
                                 f"header has {len(header)} ({','.join(header)}); quote labels that contain commas, "
                                 "or fix the line.")
            youtube_id = record["youtube_id"].strip()
            try:
                start, end = int(float(record["time_start"])), int(float(record["time_end"]))
            except ValueError:
                raise ValueError(f"{path}, line {line}: time_start={record['time_start']!r}, "
                                 f"time_end={record['time_end']!r}; both must be seconds (e.g. 14, 24).") from None
            label = natural_class_name(record["label"]) if has_label else None
            if not youtube_id or (has_label and not label and labels_required):
                field = "youtube_id" if not youtube_id else "label"
                raise ValueError(f"{path}, line {line}: empty {field}; fill it in or delete the line.")
            records.append({"label": label or None, "youtube_id": youtube_id, "time_start": start, "time_end": end})
    return records
