"""HMDB-51 from the official split files (``test_train_splits.rar``).

```python
from hfvideoclip.data.datasets import build_hmdb51
test = build_hmdb51("/data/hmdb51", split=1, subset="test")     # datasets.Dataset: video, label, video_id, split
```
Annotation files, under ``data_dir`` (or ``annotation_dir``) at any depth (the archive's
``testTrainMulti_7030_splits/``): ``<class>_test_split<N>.txt`` for each class and N = 1, 2, 3, with lines
``<video>.avi <flag>``: 1 training, 2 testing, 0 unused in that split.

The classes are the file names' ``<class>`` parts, sorted (the usual id order), named naturally
(``brush_hair`` -> ``"brush hair"``). Videos are found by file name anywhere under ``data_dir`` (the extracted
``<class>/<video>.avi`` folders). Columns: ``video``, ``label``, ``video_id`` (file name without extension),
``split`` (the subset).
"""

from __future__ import annotations

import os
import re

from ..own_data import natural_class_name
from .common import (
    DEFAULT_NUM_SHARDS,
    Row,
    annotation_index,
    assemble,
    check_class_names,
    check_split,
    load_index,
    normalise_subset,
    read_lines,
)

SPLITS = (1, 2, 3)
SUBSETS = ("train", "test")
FLAGS = {"train": "1", "test": "2"}
"""The split files' flag of each subset (0: unused)."""
_SPLIT_FILE = re.compile(r"(.+)_test_split(\d+)\.txt")


def build_hmdb51(data_dir: str | os.PathLike, split: int = 1, subset: str = "train", *,
                 annotation_dir: str | os.PathLike | None = None, streaming: bool = False,
                 num_shards: int = DEFAULT_NUM_SHARDS, cache_dir: str | os.PathLike | None = None,
                 return_report: bool = False):
    """HMDB-51 official ``split`` (1, 2, 3), ``subset`` ``"train"`` or ``"test"``, as a `datasets.Dataset`.

    The other arguments are those of `build_kinetics`.
    """
    split = check_split(split, SPLITS, "hmdb51")
    subset = normalise_subset(subset, SUBSETS, "hmdb51")
    dataset = f"hmdb51 split{split} {subset}"
    index = load_index(data_dir, cache_dir=cache_dir)
    annotations = annotation_index(data_dir, annotation_dir, cache_dir)
    files: dict[str, list[str]] = {}
    for name, paths in annotations.files.items():
        match = _SPLIT_FILE.fullmatch(name)
        if match and int(match.group(2)) == split:
            files.setdefault(match.group(1), []).extend(paths)
    if not files:
        raise ValueError(f"{dataset}: no <class>_test_split{split}.txt files under {annotations.root} (searched at "
                         "any depth). Download HMDB-51's test_train_splits.rar and extract it under data_dir, or "
                         "pass annotation_dir=.")
    repeated = {raw: paths for raw, paths in files.items() if len(paths) > 1}
    if repeated:
        raw, paths = next(iter(repeated.items()))
        raise ValueError(f"{dataset}: {len(paths)} copies of {raw}_test_split{split}.txt ({', '.join(paths[:3])}); "
                         "keep one, or pass annotation_dir= with the folder of the one to use.")
    raw_names = sorted(files)
    class_names = check_class_names([natural_class_name(raw) for raw in raw_names], annotations.root)
    rows, used = [], []
    for label, raw in enumerate(raw_names):
        path = files[raw][0]
        used.append(path)
        for number, text in read_lines(path):
            parts = text.rsplit(None, 1)
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"{path}, line {number}: {text!r}; expected `<video>.avi <flag>` with flag 1 "
                                 "(train), 2 (test) or 0 (unused). Fix the line.")
            if parts[1] == FLAGS[subset]:
                rows.append(Row(names=[parts[0]], label=label, listed=parts[0],
                                meta={"video_id": os.path.splitext(parts[0])[0], "split": subset}))
    import datasets

    meta_features = {"video_id": datasets.Value("string"), "split": datasets.Value("string")}
    return assemble(rows, class_names=class_names, meta_features=meta_features, index=index, dataset=dataset,
                    annotation_files=used, streaming=streaming, num_shards=num_shards, return_report=return_report)
