"""Builders of the benchmark datasets from the user's videos and the datasets' own annotation files.

```python
from hfvideoclip.data.datasets import build_dataset, build_kinetics, build_ucf101, find_videos

val = build_kinetics("/data/kinetics", "val", version=400)          # datasets.Dataset
test = build_ucf101("/data/ucf101", split=1, subset="test", streaming=True)   # datasets.IterableDataset
test, report = build_dataset("hmdb51", "/data/hmdb51", split=1, subset="test", return_report=True)
report.num_missing, report.missing[:3]                                # videos listed but not found
```
Every builder reads the official annotation files (`build_kinetics`: Kinetics-400/600/700 CSVs; `build_ucf101`:
``classInd.txt`` + ``trainlist0N.txt`` / ``testlist0N.txt``; `build_hmdb51`: ``<class>_test_splitN.txt``;
`build_ssv2`: ``labels.json`` + ``train.json`` / ``validation.json``; `build_from_list`: the community
``<path> <label>`` lists with a class-name file) and finds the videos by file name at any depth under ``data_dir``
through a cached index (`find_videos`), so official archive layouts and flat folders both work.

Each returns a `datasets.Dataset` (``streaming=True``: a `datasets.IterableDataset` of up to ``num_shards``
shards, to split across ranks with `datasets.distributed.split_dataset_by_node`) with the columns ``video`` (an
absolute path) and ``label`` (a `datasets.ClassLabel` whose names are natural-language class names, the label ids
those of the official files), plus the dataset's metadata columns. Videos listed but absent are left out with one
warning naming how many; ``return_report=True`` returns ``(dataset, BuildReport)`` with the full list. Decoding
(and so finding corrupt files) is the collator's job. Malformed annotation files raise ValueError naming the file,
the line and the fix.

`make_miniature` (`hfvideoclip.data.datasets.miniatures`) writes tiny copies of each dataset's layout for tests and
examples.
"""

from __future__ import annotations

import os
from functools import partial

from .common import (
    ANNOTATION_EXTENSIONS,
    DEFAULT_NUM_SHARDS,
    BuildReport,
    default_index_cache_dir,
    find_videos,
    read_class_names,
)
from .hmdb51 import build_hmdb51
from .kinetics import build_kinetics
from .lists import build_from_list
from .miniatures import MINIATURE_NAMES, Miniature, make_miniature
from .ssv2 import build_ssv2, template_class_name
from .ucf101 import build_ucf101

BUILDERS = {
    "kinetics400": partial(build_kinetics, version=400),
    "kinetics600": partial(build_kinetics, version=600),
    "kinetics700": partial(build_kinetics, version=700),
    "ucf101": build_ucf101,
    "hmdb51": build_hmdb51,
    "ssv2": build_ssv2,
}
"""Builder of each dataset name (`build_dataset`); each is called as ``builder(data_dir, ...)``."""


def build_dataset(name: str, data_dir: str | os.PathLike, **kwargs):
    """``BUILDERS[name](data_dir, **kwargs)``, e.g. ``build_dataset("ucf101", d, split=2, subset="test")``."""
    if name not in BUILDERS:
        raise ValueError(f"Unknown dataset {name!r}; use one of {sorted(BUILDERS)}, or build_from_list for a "
                         "video list.")
    return BUILDERS[name](data_dir, **kwargs)


__all__ = ["ANNOTATION_EXTENSIONS", "BUILDERS", "BuildReport", "DEFAULT_NUM_SHARDS", "MINIATURE_NAMES", "Miniature",
           "build_dataset", "build_from_list", "build_hmdb51", "build_kinetics", "build_ssv2", "build_ucf101",
           "default_index_cache_dir", "find_videos", "make_miniature", "read_class_names", "template_class_name"]
