"""Something-Something v2 from the official label files.

```python
from hfvideoclip.data.datasets import build_ssv2
val = build_ssv2("/data/ssv2", "validation")        # datasets.Dataset: video, label, video_id, template, ...
```
Annotation files, under ``data_dir`` (or ``annotation_dir``) at any depth (the archive's ``labels/``; several of a
name: the one whose path mentions something-something / ssv2 / 20bn):

- ``labels.json``: ``{"Approaching something with your camera": "0", ...}``, the 174 classes and their ids;
- ``train.json`` / ``validation.json``: ``[{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
  "template": "Holding [something] next to [something]", "placeholders": [...]}, ...]``.

Class names: a video's class is its ``template`` with the brackets removed, which is exactly a key of
``labels.json`` (``"Holding something next to something"``), and the label id is that key's value. The class names
are those keys as written: the template text, "something" standing for the objects, capital first letter kept.
They read as natural language already and are what SSv2 class-name files of the published methods hold; the
object words of one video (its ``label`` field) are no part of the class and go to the ``caption`` column.

Videos are ``{id}.webm`` (or ``{id}.mp4`` for converted copies) anywhere under ``data_dir`` (the archive's
``20bn-something-something-v2/``). The test set's labels are not in the official JSON files: use ``validation``.
Columns: ``video``, ``label``, ``video_id``, ``template`` (with brackets), ``caption`` (the ``label`` field),
``placeholders`` (list of the object words), ``split`` (the subset).
"""

from __future__ import annotations

import os

from ..own_data import natural_class_name
from .common import (
    DEFAULT_NUM_SHARDS,
    Row,
    annotation_index,
    assemble,
    find_annotation,
    load_index,
    normalise_subset,
    read_class_names,
    read_json,
)

SUBSETS = ("train", "validation")
VIDEO_SUFFIXES = (".webm", ".mp4")
_HINT = "Download the Something-Something v2 labels archive (labels.json, train.json, validation.json)."
_PREFER = r"(?i)something|ssv2|sth|20bn"


def template_class_name(template: str) -> str:
    """``"Holding [something] next to [something]"`` -> ``"Holding something next to something"``."""
    return natural_class_name(str(template).replace("[", "").replace("]", ""))


def build_ssv2(data_dir: str | os.PathLike, subset: str = "train", *,
               annotation_dir: str | os.PathLike | None = None, streaming: bool = False,
               num_shards: int = DEFAULT_NUM_SHARDS, cache_dir: str | os.PathLike | None = None,
               return_report: bool = False):
    """Something-Something v2 ``subset`` (``"train"`` or ``"validation"``) as a `datasets.Dataset`.

    The other arguments are those of `build_kinetics`.
    """
    subset = normalise_subset(subset, SUBSETS, "ssv2")
    dataset = f"ssv2 {subset}"
    index = load_index(data_dir, cache_dir=cache_dir)
    annotations = annotation_index(data_dir, annotation_dir, cache_dir)
    labels_file = find_annotation(annotations, ["labels.json"], dataset, _HINT, prefer=_PREFER)
    class_names, _ = read_class_names(labels_file)
    lookup = {name: i for i, name in enumerate(class_names)}
    entries_file = find_annotation(annotations, [f"{subset}.json"], dataset, _HINT, prefer=_PREFER)
    entries = read_json(entries_file)
    if not isinstance(entries, list):
        raise ValueError(f"{entries_file}: expected a JSON list of videos [{{\"id\": ..., \"template\": ...}}, ...], "
                         f"got {type(entries).__name__}; restore the file from the official archive.")
    rows = []
    for position, entry in enumerate(entries):
        where = f"{entries_file}, entry {position}"
        if not isinstance(entry, dict) or not str(entry.get("id", "")).strip() or not entry.get("template"):
            raise ValueError(f"{where}: {str(entry)[:80]!r} lacks an 'id' or a 'template'; each entry looks like "
                             "{\"id\": \"78687\", \"template\": \"Holding [something] next to [something]\", ...}.")
        video_id = str(entry["id"]).strip()
        name = template_class_name(entry["template"])
        if name not in lookup:
            raise ValueError(f"{where} (id {video_id}): template {entry['template']!r} is not a class of "
                             f"{labels_file} (looked up as {name!r}); use the labels.json of the same release.")
        placeholders = entry.get("placeholders") or []
        if not isinstance(placeholders, list):
            raise ValueError(f"{where} (id {video_id}): 'placeholders' must be a list of strings, got "
                             f"{placeholders!r}.")
        rows.append(Row(names=[video_id + suffix for suffix in VIDEO_SUFFIXES], label=lookup[name],
                        listed=f"{video_id}.webm",
                        meta={"video_id": video_id, "template": str(entry["template"]),
                              "caption": str(entry.get("label", "")), "split": subset,
                              "placeholders": [str(p) for p in placeholders]}))
    import datasets

    string = datasets.Value("string")
    meta_features = {"video_id": string, "template": string, "caption": string,
                     "placeholders": getattr(datasets, "List", datasets.Sequence)(string), "split": string}
    return assemble(rows, class_names=class_names, meta_features=meta_features, index=index, dataset=dataset,
                    annotation_files=[entries_file], streaming=streaming, num_shards=num_shards,
                    return_report=return_report)
