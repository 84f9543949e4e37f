"""UCF-101 from the official split files (``UCF101TrainTestSplits-RecognitionTask.zip``).

```python
from hfvideoclip.data.datasets import build_ucf101
test = build_ucf101("/data/ucf101", split=1, subset="test")     # datasets.Dataset: video, label, video_id, ...
```
Annotation files, under ``data_dir`` (or ``annotation_dir``) at any depth (the archive's ``ucfTrainTestlist/``):

- ``classInd.txt``: ``1 ApplyEyeMakeup`` per line, ids 1..101. The label ids are these ids minus one, the class
  names their natural form (``"apply eye makeup"``, `natural_class_name`).
- ``trainlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`` (path and class id);
  ``testlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`` (the class is the folder, matched to
  ``classInd.txt`` ignoring case). N = 1, 2, 3.

Videos are found by file name anywhere under ``data_dir`` (the archive's ``UCF-101/<Class>/v_...avi``).
Columns: ``video``, ``label``, ``video_id`` (file name without extension), ``group`` (the ``gNN`` number: clips of
one group come from one long video, and the official splits keep groups apart), ``split`` (the subset).
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
    find_annotation,
    load_index,
    normalise_subset,
    read_lines,
)

SPLITS = (1, 2, 3)
SUBSETS = ("train", "test")
_HINT = ("Download UCF101TrainTestSplits-RecognitionTask.zip (classInd.txt, trainlist01-03.txt, testlist01-03.txt) "
         "and extract it under data_dir.")
_GROUP = re.compile(r"_g(\d+)_c\d+$")


def build_ucf101(data_dir: str | os.PathLike, split: int = 1, subset: str = "train", *,
                 annotation_dir: str | os.PathLike | None = None, streaming: bool = False,
                 num_shards: int = DEFAULT_NUM_SHARDS, cache_dir: str | os.PathLike | None = None,
                 return_report: bool = False):
    """UCF-101 official ``split`` (1, 2, 3), ``subset`` ``"train"`` or ``"test"``, as a `datasets.Dataset`.

    The other arguments are those of `build_kinetics`.
    """
    split = check_split(split, SPLITS, "ucf101")
    subset = normalise_subset(subset, SUBSETS, "ucf101")
    dataset = f"ucf101 split{split} {subset}"
    index = load_index(data_dir, cache_dir=cache_dir)
    annotations = annotation_index(data_dir, annotation_dir, cache_dir)
    class_file = find_annotation(annotations, ["classInd.txt"], dataset, _HINT)
    raw_names = read_class_index(class_file)
    class_names = check_class_names([natural_class_name(name) for name in raw_names], class_file)
    by_folder = {name.lower(): i for i, name in enumerate(raw_names)}
    list_file = find_annotation(annotations, [f"{subset}list{split:02d}.txt"], dataset, _HINT)
    rows = []
    for number, text in read_lines(list_file):
        where = f"{list_file}, line {number}"
        parts = text.split()
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise ValueError(f"{where}: {text!r}; expected `ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1` (a path, "
                             "then the class id of classInd.txt) or just the path. Fix the line.")
        path = parts[0].replace("\\", "/")
        name = path.rsplit("/", 1)[-1]
        stem = os.path.splitext(name)[0]
        folder = path.rsplit("/", 1)[0] if "/" in path else _class_from_name(stem)
        from_folder = by_folder.get(folder.rsplit("/", 1)[-1].lower()) if folder else None
        if len(parts) == 2:
            class_id = int(parts[1])
            if not 1 <= class_id <= len(raw_names):
                raise ValueError(f"{where}: class id {class_id} is outside classInd.txt's 1..{len(raw_names)}; fix "
                                 "the id.")
            label = class_id - 1
            if from_folder is not None and from_folder != label:
                raise ValueError(f"{where}: class id {class_id} ({raw_names[label]}) disagrees with the folder "
                                 f"{folder!r} ({raw_names[from_folder]}); fix the id or the path.")
        elif from_folder is None:
            raise ValueError(f"{where}: the class {folder!r} of {path!r} is not in {class_file}; write the path as "
                             "`<Class>/<video>` with a class of classInd.txt, or add the class id after it.")
        else:
            label = from_folder
        group = _GROUP.search(stem)
        rows.append(Row(names=[name], label=label, listed=path,
                        meta={"video_id": stem, "group": int(group.group(1)) if group else None, "split": subset}))
    import datasets

    meta_features = {"video_id": datasets.Value("string"), "group": datasets.Value("int32"),
                     "split": datasets.Value("string")}
    return assemble(rows, class_names=class_names, meta_features=meta_features, index=index, dataset=dataset,
                    annotation_files=[list_file], streaming=streaming, num_shards=num_shards,
                    return_report=return_report)


def read_class_index(path: str) -> list[str]:
    """The raw class names of a ``classInd.txt`` (``1 ApplyEyeMakeup`` lines) in id order."""
    names = []
    for number, text in read_lines(path):
        match = re.fullmatch(r"(\d+)\s+(\S.*)", text)
        if match is None or int(match.group(1)) != len(names) + 1:
            expected = f"{len(names) + 1} <ClassName>"
            raise ValueError(f"{path}, line {number}: {text!r}; expected `{expected}` (ids count from 1 without "
                             "gaps). Restore the file from the official split archive.")
        names.append(match.group(2).strip())
    if not names:
        raise ValueError(f"{path}: no classes; restore the file from the official split archive.")
    return names


def _class_from_name(stem: str) -> str | None:
    """``v_ApplyEyeMakeup_g08_c01`` -> ``ApplyEyeMakeup`` (for paths listed without their class folder)."""
    match = re.fullmatch(r"v_(.+)_g\d+_c\d+", stem)
    return match.group(1) if match else None
