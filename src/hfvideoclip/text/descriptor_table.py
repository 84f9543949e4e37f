"""Class descriptors by class name: what an OST model scores against, for any vocabulary.

A trained OST model folder holds `descriptors.json`, `{"<class name>": {"spatial": [...], "temporal": [...]}}`, the
descriptors of every class it was given (the files of `recipes/generate_descriptors.py` cover a whole protocol, base
and novel classes). A class missing from the table gets the deterministic template fallback of
`descriptor_generation.template_texts` (the toy world has no language model), with one warning naming the classes.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .descriptors import (
    DEFAULT_DESCRIPTORS_PER_CLASS,
    ClassDescriptions,
    descriptor_prompts,
    load_descriptions,
)

logger = logging.getLogger(__name__)

from ..models.video_clip.descriptor_files import (  # noqa: E402  (defined with the model: they ship with it)
    DESCRIPTOR_TABLE_FILE,
    KINDS,
    load_descriptor_table,
    read_descriptor_table,
)
from ..models.video_clip.modeling_video_clip import pad_descriptor_rows  # noqa: E402

DescriptorTable = Mapping[str, Mapping[str, Sequence[str]]]
"""class name -> {"spatial": [phrase, ...], "temporal": [step, ...]}."""


def read_descriptor_files(spatial_file: str, temporal_file: str, class_names: Sequence[str],
                          method: str = "ost") -> dict[str, dict[str, list[str]]]:
    """A table from OST / ETL4Video index files (`{"<idx>": [texts]}`) whose indices follow `class_names`."""
    table: dict[str, dict[str, list[str]]] = {name: {} for name in class_names}
    for kind, path in (("spatial", spatial_file), ("temporal", temporal_file)):
        loaded = load_descriptions(path, len(class_names), format=method, kind=kind, class_names=class_names)
        for name, texts in zip(class_names, loaded.per_class):
            table[name][kind] = list(texts)
    return table


OFFICIAL_OST_DIR = Path(__file__).resolve().parent.parent / "data" / "descriptors" / "ost" / "descriptors"
"""OST's published descriptor files (tomchen-ctj/OST, MIT), shipped: see ``data/descriptors/SOURCES.md``."""

# folder of OST's descriptors/ -> (the published class-name file its indices follow, spatial file, temporal file)
_OFFICIAL_OST_SETS: dict[str, tuple[str, str, str]] = {
    "k400": ("kinetics_400_labels.csv", "spatio_descriptors/{n}_descriptors.json",
             "temporal_descriptors/{n}_descriptors.json"),
    "hmdb": ("hmdb_51_labels.csv", "spatio_descriptors/{n}_descriptors.json",
             "temporal_descriptors/{n}_descriptors.json"),
    "ucf": ("ucf_101_labels.csv", "spatio_descriptors/{n}_descriptors.json",
            "temporal_descriptors/{n}_descriptors.json"),
    "sth": ("ssv2_labels.csv", "spatio_descriptors/{n}_descriptors.json",
            "temporal_descriptors/{n}_descriptors.json"),
    **{f"k600/split{i}": (f"ZS_split{i}_K600.csv", "spatio_{n}_descriptors.json", "temporal_{n}_descriptors.json")
       for i in (1, 2, 3)},
}


@functools.lru_cache(maxsize=None)
def _official_ost_classes(folder: str) -> tuple[str, ...]:
    """The class names OST's descriptor indices of `folder` follow. HMDB-51: sorted order, as our HMDB ids (the
    descriptors describe the sorted classes: index 21 is 'kick ball', 45 'sword exercise'; see SOURCES.md)."""
    from ..data.benchmarks import SHIPPED_SPLITS_DIR, read_published_classes

    names = read_published_classes(SHIPPED_SPLITS_DIR / "vifi_clip" / "labels" / _OFFICIAL_OST_SETS[folder][0])
    return tuple(sorted(names) if folder == "hmdb" else names)


@functools.lru_cache(maxsize=None)
def _official_ost_descriptors(folder: str, num_descriptors: int) -> dict[str, tuple[tuple[str, ...], ...]] | None:
    """Per kind, the published descriptors of every class of `folder` (index order), read once per process: the
    files are package data; None when OST published no `num_descriptors` files for that dataset."""
    _, spatial, temporal = _OFFICIAL_OST_SETS[folder]
    paths = {kind: OFFICIAL_OST_DIR / folder / pattern.format(n=num_descriptors)
             for kind, pattern in (("spatial", spatial), ("temporal", temporal))}
    if not all(path.is_file() for path in paths.values()):
        return None
    count = len(_official_ost_classes(folder))
    return {kind: tuple(tuple(texts) for texts in load_descriptions(
                path, count, format="ost", kind=kind, expected_per_class=num_descriptors).per_class)
            for kind, path in paths.items()}


def official_descriptor_table(class_names: Sequence[str], num_descriptors: int = 4
                              ) -> tuple[dict[str, dict[str, list[str]]], str | None]:
    """OST's published descriptors for the classes of `class_names` they describe: (class name -> {"spatial",
    "temporal"}, the folder used), from the one dataset's files covering most of the classes (K400, HMDB-51,
    UCF-101, SSv2, K600 split 1/2/3), names matched ignoring case, punctuation and articles. Empty and None when no
    class is described or OST published no `num_descriptors` files for that dataset (SSv2: 4 only)."""
    from .class_descriptions import description_key

    wanted = {description_key(name): name for name in class_names}
    best, best_hits = None, {}
    for folder in _OFFICIAL_OST_SETS:
        hits = {wanted[key]: index for index, key in enumerate(map(description_key, _official_ost_classes(folder)))
                if key in wanted}
        if len(hits) > len(best_hits):
            best, best_hits = folder, hits
    loaded = _official_ost_descriptors(best, num_descriptors) if best is not None else None
    if loaded is None:
        return {}, None
    table = {name: {kind: list(loaded[kind][index]) for kind in KINDS} for name, index in best_hits.items()}
    return table, best


def save_descriptor_table(folder: str | os.PathLike, table: DescriptorTable) -> Path:
    path = Path(folder) / DESCRIPTOR_TABLE_FILE
    path.write_text(json.dumps({name: {kind: list(entry[kind]) for kind in KINDS} for name, entry in table.items()},
                               indent=2, ensure_ascii=False) + "\n")
    return path


def descriptor_sets(class_names: Sequence[str], table: DescriptorTable | None, num_descriptors: int | None = None,
                    method: str = "ost") -> dict[str, ClassDescriptions]:
    """Per kind, the descriptors of `class_names` in that order: from `table`, else the template fallback."""
    from .descriptor_generation import template_texts

    count = num_descriptors or DEFAULT_DESCRIPTORS_PER_CLASS[method]
    table = table or {}
    missing = [name for name in class_names if name not in table]
    if missing and table:
        logger.warning("No descriptors for %d class(es) (%s%s); using the template fallback for them.", len(missing),
                       ", ".join(missing[:5]), ", ..." if len(missing) > 5 else "")
    sets = {}
    for kind in KINDS:
        per_class = [list(table[name][kind]) if name in table else template_texts(method, kind, name, count)
                     for name in class_names]
        sets[kind] = ClassDescriptions(per_class, format=method, kind=kind, class_names=list(class_names))
    return sets


def descriptor_prompt_sets(class_names: Sequence[str], table: DescriptorTable | None,
                           num_descriptors: int | None = None) -> dict[str, list[list[str]]]:
    """Per kind, the OST text-encoder prompts of every class (C lists of N prompts)."""
    sets = descriptor_sets(class_names, table, num_descriptors)
    return {kind: descriptor_prompts(sets[kind], list(class_names), kind) for kind in KINDS}


def tokenize_prompt_sets(tokenizer, prompts: list[list[str]]):
    """C lists of N_c >= 1 prompts -> `input_ids`, `attention_mask` (C, N, L) and the descriptor mask (C, N).

    Uneven counts are padded to N = max N_c by repeating a class's first prompt (`pad_descriptor_rows`); the bool
    descriptor mask marks the real prompts (for `VideoClipDescriptorBank`), None when every class has N."""
    rows, descriptor_mask = pad_descriptor_rows(prompts)
    flat = [prompt for row in rows for prompt in row]
    tokens = tokenizer(flat, padding=True, truncation=True, return_tensors="pt")
    shape = (len(rows), len(rows[0]), -1)
    return tokens["input_ids"].reshape(shape), tokens["attention_mask"].reshape(shape), descriptor_mask


__all__ = ["DESCRIPTOR_TABLE_FILE", "OFFICIAL_OST_DIR", "DescriptorTable", "descriptor_prompt_sets", "descriptor_sets",
           "load_descriptor_table", "official_descriptor_table", "read_descriptor_files", "read_descriptor_table",
           "save_descriptor_table", "tokenize_prompt_sets"]
