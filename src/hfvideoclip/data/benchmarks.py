"""The papers' protocols on the real benchmarks, from the published split files shipped with the package.

```python
from hfvideoclip.data import load_protocol
data = load_protocol("b2n-ucf101", data_dir="/data/ucf101")          # 3 splits: 16-shot base training, base / novel
data = load_protocol("xd-k600", data_dir="/data/k600", k400_dir="/data/k400")   # train K400, test 3 x 160 classes
data = load_protocol("fs4-hmdb51", data_dir="/data/hmdb51")          # 4 shots of every class, split-1 test
reports = {}
data = load_protocol("b2n-k400", data_dir="/data/k400", reports=reports)   # reports["split1/train"].num_missing
```
Importing this module registers the protocols below (`register_protocol`); `datasets` is imported when one is
loaded. Every loader takes ``data_dir`` (the dataset's videos at any depth and, unless ``annotation_dir`` is given,
its official annotation files), ``cache_dir`` (where the file index of ``data_dir`` is cached, as in the builders),
``splits_dir`` (the folder of published split files, default `SHIPPED_SPLITS_DIR`) and ``reports`` (a dict the
loader fills with the `BuildReport` of every set it builds: videos listed but absent are left out, counted there
and warned about once per set). `describe_protocols` says what each protocol needs on disk.

Protocols (the published split files are listed, with their sources and licences, in ``splits/SOURCES.md``):

- ``b2n-k400``, ``b2n-hmdb51``, ``b2n-ucf101``, ``b2n-ssv2``: base-to-novel as ViFi-CLIP published it (also used by
  FROSTER, OST, MSTA). Classes are split in half once (K400 200 / 200, HMDB 26 / 25, UCF 51 / 50, SSv2 87 / 87:
  ViFi-CLIP's ``labels/<dataset>_base_labels.csv`` / ``_novel_labels.csv``). Three splits, one per published seed:
  training is ``fs_base_s<N>_train.txt`` (16 videos of every base class, from the official training set); eval
  ``base`` and ``novel`` are the official evaluation set restricted to the base / the novel classes (K400 val,
  HMDB-51 and UCF-101 split-1 test, SSv2 validation: ViFi-CLIP's ``base_val.txt`` / ``novel_val.txt`` are exactly
  these, checked when the files were fetched), the same in every split. Each set has its own vocabulary, in the
  published class order. ``train=False`` leaves the training sets out (zero-shot evaluation needs no training
  videos).
- ``xd-ucf101``, ``xd-hmdb51``: cross-dataset zero-shot. Eval ``test`` of the 3 official test splits (all classes);
  ``full=True`` instead gives one split ``full`` of every video of the official split 1 (train + test lists: UCF
  13,320 videos, HMDB 5,100; Open-VCLIP's "full" sets). Training: None, or Kinetics-400 train when ``k400_dir``
  is given (one dataset shared by the splits).
- ``xd-k600``: the 3 splits of 160 Kinetics-600 classes new to Kinetics-400 (ER-ZSAR's ``tst_class_idxs.json``,
  used by X-CLIP, ViFi-CLIP, Open-VCLIP, FROSTER). Eval ``test``: the Kinetics-600 val videos of the split's
  classes (as Open-VCLIP and FROSTER evaluate). X-CLIP / ViFi-CLIP evaluate on ER-ZSAR's own test videos instead
  (drawn from K600 train, val and test; ViFi-CLIP's ``ZS_split<N>_K600_eval.txt``, 0.55 MB each, not shipped):
  pass ``eval_lists=<folder holding those three files>`` for that variant. Training as for ``xd-ucf101``.
- ``fs<K>-hmdb51``, ``fs<K>-ucf101``, ``fs<K>-ssv2`` for K = 2, 4, 8, 16: all-way K-shot as ViFi-CLIP published it
  (``train1_few_shot_<K>.txt``, one draw: the published lists have no seeds). One split: training the list,
  eval ``test`` the official evaluation set (HMDB-51 / UCF-101 split-1 test, SSv2 validation), one vocabulary.

- ``ooc-ucf-scuba``, ``ooc-ucf-hat``, ``ooc-k400-scuba``: out-of-context evaluation as Open-MeDe runs it (train on
  Kinetics-400, test in context and out of context). One split ``split1``, eval ``test``: the original videos
  (UCF-101 split-1 test / Kinetics-400 val) with ``context`` = ``in``, plus the synthetic videos of the released
  lists with ``context`` = ``out``, one vocabulary (the dataset's classes), so the harness reports ``top1_in``,
  ``top1_out`` (`OOC_GROUP_COLUMN`; ``top1`` pools both). Their harmonic mean is Open-MeDe's HM
  (``params["hm_groups"]``). The lists are not shipped: SCUBA's (Li et al., ICCV 2023) come with its archives on
  OneDrive / Google Drive (lihaoxin05/StillMix links them; the repository has neither the lists nor a licence), HAT's
  (Chung et al., NeurIPS 2022) swap pairs are pickles rendered by the user. Pass ``ooc_lists=`` (files, or a folder
  whose ``.txt`` / ``.csv`` files are all read) and ``ooc_dir=`` (the synthetic videos at any depth; default each
  list's folder; one folder per list when the lists share video names, as SCUBA's background sets do). A list line is mmaction2's ``<frame folder> <num frames> <label id>``
  (``v_Basketball_g01_c01__0 120 7``), or ``<video> <label id>``; ids number the dataset's classes (UCF-101:
  ``classInd.txt`` id - 1; Kinetics-400: sorted names), or those of ``ooc_class_names=`` (any class-name file).
  The released SCUBA videos are JPEG frame folders: encode each into one video named after its folder
  (``v_Basketball_g01_c01__0.mp4``), which is what the loader looks up. ``reports`` gets ``"in"`` and
  ``"out/<list name>"`` (missing videos counted there). Training: None, or Kinetics-400 train when ``k400_dir`` is given.

Published label ids are read through the published class-name files and matched to the dataset's class names by
name (exactly, else ignoring case, spaces and punctuation), so they need not share the official id order. One
erratum of the published files is corrected: ViFi-CLIP's HMDB-51 class-name files swap ``kick`` / ``kick ball``
and ``sword`` / ``sword exercise`` against the ids of all its HMDB lists, so HMDB ids are read in sorted name
order (`_list_order`; the file names of the listed videos, which name their class, confirm it). A listed video is found by file name anywhere under
``data_dir``, also under the dataset's other extensions (a K400 ``.mp4`` as ``.mkv`` / ``.webm`` or as the bare
YouTube id, an SSv2 ``.webm`` as ``.mp4``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .datasets.common import DEFAULT_NUM_SHARDS, Row, assemble, load_index, read_class_names, read_lines
from .own_data import natural_class_name
from .protocols import ProtocolData, ProtocolSplit, available_protocols, register_protocol

SHIPPED_SPLITS_DIR = Path(__file__).resolve().parent / "splits"
"""The published split files shipped with the package (``splits/SOURCES.md`` lists them)."""
VIFI_CLIP = "vifi_clip"
"""Folder of ViFi-CLIP's files under a splits dir (their repository paths kept below it)."""
ER_ZSAR = "er_zsar"
"""Folder of ER-ZSAR's files under a splits dir."""
SPLIT_SOURCES = {VIFI_CLIP: "muzairkhattak/ViFi-CLIP@dea0d7e7", ER_ZSAR: "DeLightCMU/ElaborativeRehearsal@0953ce6a"}
"""The repository and commit of the shipped files of each source (written to `ProtocolData.params`)."""
SHOTS = (2, 4, 8, 16)
NUM_SPLITS = 3


# --------------------------------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class _Benchmark:
    key: str  # protocol suffix
    title: str
    vifi: str  # ViFi-CLIP's folder prefix: datasets_splits/<vifi>_splits/
    labels: str  # ViFi-CLIP's base / novel label-file stem: labels/<labels>_base_labels.csv
    full_labels: str  # ViFi-CLIP's label file of every class (the few-shot lists' ids)
    suffixes: tuple[str, ...]  # extensions a listed video may have on disk
    evaluation: str  # the official evaluation set, in words
    needs: str  # annotation files the evaluation set is built from
    sorted_ids: bool = False  # the lists number the classes in sorted name order, not in their class files' order

    def build_eval(self, data_dir, *, split: int = 1, annotation_dir=None, cache_dir=None):
        """The official evaluation set (split ``split`` where the dataset has splits) and its `BuildReport`."""
        from .datasets import build_hmdb51, build_kinetics, build_ssv2, build_ucf101

        common = {"annotation_dir": annotation_dir, "cache_dir": cache_dir, "return_report": True}
        if self.key == "k400":
            return build_kinetics(data_dir, "val", version=400, **common)
        if self.key == "hmdb51":
            return build_hmdb51(data_dir, split, "test", **common)
        if self.key == "ucf101":
            return build_ucf101(data_dir, split, "test", **common)
        return build_ssv2(data_dir, "validation", **common)


_BENCHMARKS = {
    "k400": _Benchmark("k400", "Kinetics-400", "k400", "kinetics_400", "kinetics_400_labels.csv",
                       (".mp4", ".mkv", ".webm"), "val",
                       "the val CSV (k400/annotations/val.csv or kinetics-400_val.csv)"),
    "hmdb51": _Benchmark("hmdb51", "HMDB-51", "hmdb", "hmdb_51", "hmdb_51_labels.csv", (".avi", ".mp4"),
                         "split-1 test", "the <class>_test_split1.txt split files", sorted_ids=True),
    "ucf101": _Benchmark("ucf101", "UCF-101", "ucf", "ucf_101", "ucf_101_labels.csv", (".avi", ".mp4"),
                         "split-1 test", "ucfTrainTestlist/classInd.txt and testlist01.txt"),
    "ssv2": _Benchmark("ssv2", "Something-Something v2", "ssv2", "ssv2_174", "ssv2_labels.csv", (".webm", ".mp4"),
                       "validation", "labels.json and validation.json"),
}
B2N_DATASETS = ("k400", "hmdb51", "ucf101", "ssv2")
FEW_SHOT_DATASETS = ("hmdb51", "ucf101", "ssv2")
XD_DATASETS = ("ucf101", "hmdb51")


# ------------------------------------------------------------------------------------------------ the classes
def class_key(name: str) -> str:
    """What two spellings of a class name share: ``"ApplyEyeMakeup"``, ``"apply eye makeup"`` -> ``applyeyemakeup``."""
    return re.sub(r"[^0-9a-z]+", "", natural_class_name(name).lower())


def match_class_names(names: Sequence[str], vocabulary: Sequence[str], what: str = "classes") -> list[str]:
    """Each of ``names`` as ``vocabulary`` spells it: an exact match, else the one entry with the same `class_key`.

    ValueError naming the classes not in ``vocabulary`` (or matching two of its entries).
    """
    vocabulary = list(vocabulary)
    exact = set(vocabulary)
    by_key: dict[str, list[str]] = {}
    for entry in vocabulary:
        by_key.setdefault(class_key(entry), []).append(entry)
    matched, unknown, ambiguous = [], [], []
    for name in names:
        if name in exact:
            matched.append(name)
            continue
        candidates = by_key.get(class_key(name), [])
        if len(candidates) == 1:
            matched.append(candidates[0])
        else:
            (ambiguous if candidates else unknown).append(name)
    if unknown or ambiguous:
        problems = []
        if unknown:
            problems.append(f"{len(unknown)} not in it ({', '.join(repr(n) for n in unknown[:5])})")
        if ambiguous:
            problems.append(f"{len(ambiguous)} matching several of its classes ({', '.join(map(repr, ambiguous[:5]))})")
        raise ValueError(f"{what}: {'; '.join(problems)}. The vocabulary has {len(vocabulary)} classes (e.g. "
                         f"{vocabulary[:3]}); check that data_dir / annotation_dir hold the right dataset and version.")
    repeated = sorted({m for m in matched if matched.count(m) > 1})
    if repeated:
        raise ValueError(f"{what}: several names are the class {repeated[0]!r}; list each class once.")
    return matched


def select_classes(dataset, class_names: Sequence[str]):
    """The rows of ``dataset`` whose class is one of ``class_names``, relabelled ``0..len(class_names)-1`` in that
    order, with the label feature ``datasets.ClassLabel(names=class_names)``.

    ``class_names`` are matched to the dataset's ``label`` names by `match_class_names` (exactly, else ignoring case,
    spaces and punctuation) and kept as given. Rows keep their order and their other columns. A class without rows
    stays in the vocabulary. ValueError for a name that is not a class of the dataset.
    """
    import datasets

    feature = dataset.features.get("label") if dataset.features else None
    if not isinstance(feature, datasets.ClassLabel):
        raise ValueError(f"select_classes needs a dataset with a ClassLabel 'label' column; got {feature!r}.")
    names = [str(name) for name in class_names]
    if not names:
        raise ValueError("select_classes: class_names is empty; name at least one class.")
    spelled = match_class_names(names, feature.names, f"select_classes({len(names)} classes)")
    new_id = {feature.names.index(name): i for i, name in enumerate(spelled)}
    labels = list(dataset["label"])
    keep = [row for row, label in enumerate(labels) if label in new_id]
    columns = list(dataset.column_names)
    with _quiet():
        kept = dataset.select(keep).remove_columns("label")
        kept = kept.add_column("label", [new_id[labels[row]] for row in keep],
                               feature=datasets.ClassLabel(names=names))
        return kept.select_columns(columns)


@contextlib.contextmanager
def _quiet():
    """No `datasets` progress bars for the in-memory bookkeeping of the loaders."""
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    if enabled:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


# ------------------------------------------------------------------------------------------- published files
def splits_root(splits_dir: str | os.PathLike | None = None) -> Path:
    """``splits_dir`` (a folder laid out as the shipped one), else `SHIPPED_SPLITS_DIR`."""
    root = SHIPPED_SPLITS_DIR if splits_dir is None else Path(splits_dir).expanduser()
    if not root.is_dir():
        raise ValueError(f"splits_dir {str(root)!r} is not a directory; leave it out to use the split files shipped "
                         f"with hfvideoclip ({SHIPPED_SPLITS_DIR}).")
    return root


def _published(root: Path, *parts: str) -> Path:
    path = root.joinpath(*parts)
    if not path.is_file():
        raise ValueError(f"Published split file {str(path)!r} is missing. The shipped files are under "
                         f"{SHIPPED_SPLITS_DIR} (see SOURCES.md there); a splits_dir must keep their layout.")
    return path


def read_published_list(path: str | os.PathLike) -> list[tuple[int, str, int]]:
    """``(line number, listed path, label id)`` of a published list: ``<path> <id>`` (or ``<path>,<id>``) per line."""
    path = os.fspath(path)
    entries = []
    for number, text in read_lines(path):
        match = re.fullmatch(r"(.+?)(?:\s+|\s*,\s*)(\d+)", text)
        if match is None:
            raise ValueError(f"{path}, line {number}: {text!r}; expected `<video> <class id>` as in the published "
                             "lists (e.g. `v_ApplyEyeMakeup_g08_c01.avi 0`).")
        entries.append((number, match.group(1).strip(), int(match.group(2))))
    if not entries:
        raise ValueError(f"{path}: no videos listed; restore the file (see SOURCES.md).")
    return entries


def read_published_classes(path: str | os.PathLike) -> list[str]:
    """The class names of a published class-name file, in id order (natural names, ids from 0)."""
    names, first = read_class_names(path)
    if first != 0:
        raise ValueError(f"{path}: class ids start at {first}; the published lists count from 0.")
    return names


def _list_order(bench: _Benchmark, names: list[str]) -> list[str]:
    """The classes of a published class-name file in the order its lists number them.

    ViFi-CLIP's HMDB-51 class-name files put ``kick ball`` before ``kick`` and ``sword exercise`` before ``sword``,
    but every one of its HMDB lists numbers the classes in sorted name order (``kick`` 20, ``kick ball`` 21,
    ``sword`` 44, ``sword exercise`` 45 of the 51): each listed file name shows its class, and the official split
    files agree. Read in the files' order, the videos of those 4 classes would get each other's names, so HMDB ids
    are read in sorted order.
    """
    return sorted(names) if bench.sorted_ids else list(names)


def b2n_classes(dataset: str, splits_dir=None) -> tuple[list[str], list[str]]:
    """The published (base, novel) class names of ``dataset`` (``k400``, ``hmdb51``, ``ucf101``, ``ssv2``), each in
    the order of the published list ids (for HMDB-51 sorted, see `_list_order`)."""
    bench = _benchmark(dataset, B2N_DATASETS)
    root = splits_root(splits_dir)
    return tuple(_list_order(bench, read_published_classes(
        _published(root, VIFI_CLIP, "labels", f"{bench.labels}_{part}_labels.csv"))) for part in ("base", "novel"))


def few_shot_classes(dataset: str, splits_dir=None) -> list[str]:
    """The class names of the published few-shot lists' ids of ``dataset`` (``hmdb51``, ``ucf101``, ``ssv2``)."""
    bench = _benchmark(dataset, FEW_SHOT_DATASETS)
    root = splits_root(splits_dir)
    return _list_order(bench, read_published_classes(_published(root, VIFI_CLIP, "labels", bench.full_labels)))


def k600_split_classes(splits_dir=None) -> list[list[str]]:
    """The 3 published lists of Kinetics-600 classes new to Kinetics-400 (160 each): ER-ZSAR's
    ``tst_class_idxs.json`` read through its class list ``classes620.txt`` (400 Kinetics-400 classes, then the 220
    new ones), each list in its index order."""
    root = splits_root(splits_dir)
    folder = (ER_ZSAR, "datasets", "Kinetics", "zsl220")
    classes_file = _published(root, *folder, "classes620.txt")
    classes = [text for _, text in read_lines(str(classes_file))]
    idx_file = _published(root, *folder, "tst_class_idxs.json")
    with open(idx_file, encoding="utf-8") as handle:
        splits = json.load(handle)
    if not (isinstance(splits, list) and splits and all(isinstance(s, list) and s for s in splits)):
        raise ValueError(f"{idx_file}: expected a JSON list of class-index lists, one per split.")
    out = []
    for number, indices in enumerate(splits, start=1):
        bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < len(classes)]
        if bad or len(set(indices)) != len(indices):
            raise ValueError(f"{idx_file}, split {number}: indices must be distinct integers in 0..{len(classes) - 1} "
                             f"({classes_file}); got {bad[:3] or 'repeats'}.")
        out.append([classes[i] for i in indices])
    return out


def _benchmark(dataset: str, allowed: Sequence[str]) -> _Benchmark:
    if dataset not in allowed:
        raise ValueError(f"Unknown dataset {dataset!r}; use one of {list(allowed)}.")
    return _BENCHMARKS[dataset]


# ------------------------------------------------------------------------------------------------- building
def _video_names(listed: str, suffixes: Sequence[str], kinetics: bool) -> list[str]:
    """File names a listed video may have: as listed, then with the dataset's other extensions (and for Kinetics
    the bare YouTube id)."""
    name = listed.replace("\\", "/").rsplit("/", 1)[-1]
    stem = os.path.splitext(name)[0]
    stems = [stem]
    if kinetics:
        match = re.fullmatch(r"(.+)_\d{6}_\d{6}", stem)
        if match:
            stems.append(match.group(1))
    names = [name]
    for candidate_stem in stems:
        names += [candidate_stem + suffix for suffix in suffixes if candidate_stem + suffix not in names]
    return names


def build_published_list(list_file, list_classes: Sequence[str], vocabulary: Sequence[str], data_dir, *,
                         suffixes: Sequence[str] = (), kinetics: bool = False, cache_dir=None, name: str | None = None):
    """A published list as a `datasets.Dataset` (columns ``video``, ``label``) and its `BuildReport`.

    ``list_classes`` are the names of the list's label ids (its class-name file); each is matched to
    ``vocabulary`` (`match_class_names`), whose positions are the labels and which is the ``ClassLabel``'s names.
    """
    list_file = os.fspath(list_file)
    vocabulary = list(vocabulary)
    entries = read_published_list(list_file)
    spelled = match_class_names(list_classes, vocabulary, f"{list_file}'s classes")
    position = {name: i for i, name in enumerate(vocabulary)}
    index = load_index(data_dir, cache_dir=cache_dir)
    rows = []
    for number, listed, label in entries:
        if not 0 <= label < len(spelled):
            raise ValueError(f"{list_file}, line {number}: class id {label} is outside its class-name file's ids "
                             f"0..{len(spelled) - 1}; use the class-name file published with the list.")
        rows.append(Row(names=_video_names(listed, suffixes, kinetics), label=position[spelled[label]], listed=listed))
    return assemble(rows, class_names=vocabulary, meta_features={}, index=index,
                    dataset=name or os.path.basename(list_file), annotation_files=[list_file], streaming=False,
                    num_shards=DEFAULT_NUM_SHARDS, return_report=True)


def _store(reports: dict | None, key: str, report) -> None:
    if reports is not None:
        reports[key] = report


def _need(data_dir, protocol: str):
    if data_dir is None:
        raise ValueError(f"Protocol {protocol!r} needs data_dir=: {PROTOCOL_NEEDS[protocol]}.")
    return data_dir


def _params(**params) -> dict:
    return {key: os.fspath(value) if isinstance(value, os.PathLike) else value for key, value in params.items()}


def _k400_train(k400_dir, k400_annotation_dir, cache_dir, reports):
    if k400_dir is None:
        return None
    from .datasets import build_kinetics

    train, report = build_kinetics(k400_dir, "train", version=400, annotation_dir=k400_annotation_dir,
                                   cache_dir=cache_dir, return_report=True)
    _store(reports, "k400/train", report)
    return train


# ------------------------------------------------------------------------------------------------ protocols
def load_b2n(dataset: str, cache_dir=None, *, data_dir=None, annotation_dir=None, splits_dir=None,
             train: bool = True, reports: dict | None = None) -> ProtocolData:
    """Base-to-novel on ``dataset`` (``k400``, ``hmdb51``, ``ucf101``, ``ssv2``): see the module docstring.

    ``reports`` gets ``"eval"`` (the official evaluation set the base and novel sets are drawn from) and
    ``"split<N>/train"``.
    """
    bench = _benchmark(dataset, B2N_DATASETS)
    protocol = f"b2n-{dataset}"
    data_dir = _need(data_dir, protocol)
    root = splits_root(splits_dir)
    base_published, novel_published = b2n_classes(dataset, root)
    full, report = bench.build_eval(data_dir, annotation_dir=annotation_dir, cache_dir=cache_dir)
    _store(reports, "eval", report)
    vocabulary = full.features["label"].names
    base = match_class_names(base_published, vocabulary, f"{protocol} base classes")
    novel = match_class_names(novel_published, vocabulary, f"{protocol} novel classes")
    overlap = sorted(set(base) & set(novel))
    if overlap:
        raise ValueError(f"{protocol}: the published base and novel classes share {overlap[:3]}; restore the label "
                         "files (see SOURCES.md).")
    evals = {"base": select_classes(full, base), "novel": select_classes(full, novel)}
    splits = []
    for seed in range(1, NUM_SPLITS + 1):
        training = None
        if train:
            list_file = _published(root, VIFI_CLIP, "datasets_splits", "base2novel_splits", f"{bench.vifi}_splits",
                                   f"fs_base_s{seed}_train.txt")
            try:
                training, train_report = build_published_list(
                    list_file, base_published, base, data_dir, suffixes=bench.suffixes, kinetics=dataset == "k400",
                    cache_dir=cache_dir, name=f"{protocol} split{seed} train")
            except ValueError as error:
                raise ValueError(f"{error} To evaluate without training sets, pass train=False.") from None
            _store(reports, f"split{seed}/train", train_report)
        splits.append(ProtocolSplit(name=f"split{seed}", train=training, eval=dict(evals)))
    return ProtocolData(name=protocol, splits=splits, root=os.fspath(data_dir),
                        params=_params(data_dir=data_dir, annotation_dir=annotation_dir, splits_dir=splits_dir,
                                       train=train, shots=16, split_source=SPLIT_SOURCES[VIFI_CLIP]))


def load_few_shot(dataset: str, shots: int, cache_dir=None, *, data_dir=None, annotation_dir=None, splits_dir=None,
                  reports: dict | None = None) -> ProtocolData:
    """All-way ``shots``-shot on ``dataset`` (``hmdb51``, ``ucf101``, ``ssv2``): see the module docstring.

    ``reports`` gets ``"test"`` and ``"train"``.
    """
    bench = _benchmark(dataset, FEW_SHOT_DATASETS)
    if shots not in SHOTS:
        raise ValueError(f"shots={shots!r}: the published few-shot lists have {list(SHOTS)} shots.")
    protocol = f"fs{shots}-{dataset}"
    data_dir = _need(data_dir, protocol)
    root = splits_root(splits_dir)
    published = few_shot_classes(dataset, root)
    test, report = bench.build_eval(data_dir, annotation_dir=annotation_dir, cache_dir=cache_dir)
    _store(reports, "test", report)
    vocabulary = test.features["label"].names
    list_file = _published(root, VIFI_CLIP, "datasets_splits", f"{bench.vifi}_splits", f"train1_few_shot_{shots}.txt")
    training, train_report = build_published_list(list_file, published, vocabulary, data_dir, suffixes=bench.suffixes,
                                                   cache_dir=cache_dir, name=f"{protocol} train")
    _store(reports, "train", train_report)
    return ProtocolData(name=protocol, splits=[ProtocolSplit(name="split1", train=training, eval={"test": test})],
                        root=os.fspath(data_dir),
                        params=_params(data_dir=data_dir, annotation_dir=annotation_dir, splits_dir=splits_dir,
                                       shots=shots, split_source=SPLIT_SOURCES[VIFI_CLIP]))


def load_cross_dataset(dataset: str, cache_dir=None, *, data_dir=None, annotation_dir=None, k400_dir=None,
                       k400_annotation_dir=None, full: bool = False, reports: dict | None = None) -> ProtocolData:
    """Cross-dataset zero-shot on ``dataset`` (``ucf101``, ``hmdb51``): see the module docstring.

    ``reports`` gets ``"split<N>/test"`` (``full=True``: ``"full/train"`` and ``"full/test"``, the two halves of the
    official split 1) and ``"k400/train"`` when ``k400_dir`` is given.
    """
    bench = _benchmark(dataset, XD_DATASETS)
    protocol = f"xd-{dataset}"
    data_dir = _need(data_dir, protocol)
    from .datasets import build_hmdb51, build_ucf101

    builder = build_ucf101 if dataset == "ucf101" else build_hmdb51
    common = {"annotation_dir": annotation_dir, "cache_dir": cache_dir, "return_report": True}
    training = _k400_train(k400_dir, k400_annotation_dir, cache_dir, reports)
    splits = []
    if full:
        import datasets

        halves = []
        for subset in ("test", "train"):
            half, report = builder(data_dir, 1, subset, **common)
            _store(reports, f"full/{subset}", report)
            halves.append(half)
        with _quiet():
            every = datasets.concatenate_datasets(halves)
        splits.append(ProtocolSplit(name="full", train=training, eval={"test": every}))
    else:
        for split in range(1, NUM_SPLITS + 1):
            test, report = bench.build_eval(data_dir, split=split, annotation_dir=annotation_dir, cache_dir=cache_dir)
            _store(reports, f"split{split}/test", report)
            splits.append(ProtocolSplit(name=f"split{split}", train=training, eval={"test": test}))
    return ProtocolData(name=protocol, splits=splits, root=os.fspath(data_dir),
                        params=_params(data_dir=data_dir, annotation_dir=annotation_dir, k400_dir=k400_dir,
                                       k400_annotation_dir=k400_annotation_dir, full=full))


def load_k600(cache_dir=None, *, data_dir=None, annotation_dir=None, splits_dir=None, eval_lists=None, k400_dir=None,
              k400_annotation_dir=None, reports: dict | None = None) -> ProtocolData:
    """Cross-dataset zero-shot on the 3 published splits of 160 Kinetics-600 classes new to Kinetics-400: see the
    module docstring.

    ``reports`` gets ``"eval"`` (the Kinetics-600 val set the splits are drawn from; with ``eval_lists``:
    ``"split<N>/test"``) and ``"k400/train"`` when ``k400_dir`` is given.
    """
    protocol = "xd-k600"
    data_dir = _need(data_dir, protocol)
    root = splits_root(splits_dir)
    split_classes = k600_split_classes(root)
    training = _k400_train(k400_dir, k400_annotation_dir, cache_dir, reports)
    splits = []
    if eval_lists is None:
        from .datasets import build_kinetics

        val, report = build_kinetics(data_dir, "val", version=600, annotation_dir=annotation_dir, cache_dir=cache_dir,
                                     return_report=True)
        _store(reports, "eval", report)
        vocabulary = val.features["label"].names
        for number, classes in enumerate(split_classes, start=1):
            spelled = match_class_names(classes, vocabulary, f"{protocol} split {number}")
            splits.append(ProtocolSplit(name=f"split{number}", train=training,
                                        eval={"test": select_classes(val, spelled)}))
    else:
        lists = Path(eval_lists).expanduser()
        for number, classes in enumerate(split_classes, start=1):
            published = read_published_classes(_published(root, VIFI_CLIP, "labels", f"ZS_split{number}_K600.csv"))
            match_class_names(published, classes, f"ZS_split{number}_K600.csv against ER-ZSAR's split {number}")
            list_file = lists / f"ZS_split{number}_K600_eval.txt"
            if not list_file.is_file():
                raise ValueError(f"eval_lists: {str(list_file)!r} is missing; download ViFi-CLIP's "
                                 "datasets_splits/k600_splits/ZS_split{1,2,3}_K600_eval.txt into that folder.")
            test, report = build_published_list(list_file, published, classes, data_dir,
                                                suffixes=_BENCHMARKS["k400"].suffixes, kinetics=True,
                                                cache_dir=cache_dir, name=f"{protocol} split{number} test")
            _store(reports, f"split{number}/test", report)
            splits.append(ProtocolSplit(name=f"split{number}", train=training, eval={"test": test}))
    return ProtocolData(name=protocol, splits=splits, root=os.fspath(data_dir),
                        params=_params(data_dir=data_dir, annotation_dir=annotation_dir, splits_dir=splits_dir,
                                       eval_lists=eval_lists, k400_dir=k400_dir,
                                       k400_annotation_dir=k400_annotation_dir,
                                       split_source=SPLIT_SOURCES[ER_ZSAR if eval_lists is None else VIFI_CLIP]))


# --------------------------------------------------------------------------------------- out of context
OOC_GROUP_COLUMN = "context"
"""The column of the out-of-context protocols: ``in`` (original videos) or ``out`` (synthetic ones)."""
OOC_HM_GROUPS = ("in", "out")
"""Open-MeDe's HM is the harmonic mean of ``top1_in`` and ``top1_out``."""


@dataclass(frozen=True)
class _OutOfContext:
    key: str  # protocol suffix
    title: str
    dataset: str  # the _BENCHMARKS key of the in-context set
    source: str  # where the lists come from, in words


_OOC = {
    "ucf-scuba": _OutOfContext(
        "ucf-scuba", "UCF-SCUBA", "ucf101",
        "SCUBA's UCF-101 lists (UCF101-SCUBA-{places,vqgan,sinusoidal}: testlist01.txt of videos named "
        "<video>__<n>, 101-class ids; lihaoxin05/StillMix README links the archives)"),
    "ucf-hat": _OutOfContext(
        "ucf-hat", "UCF-HAT", "ucf101",
        "HAT Action-Swap videos of UCF-101 rendered to files (foreground of one test video on the inpainted "
        "background of another, labelled with the foreground action; princetonvisualai/HAT pair pickles) and a "
        "list of them"),
    "k400-scuba": _OutOfContext(
        "k400-scuba", "K400-SCUBA", "k400",
        "SCUBA's Kinetics-400 lists (K400-SCUBA-{places,vqgan,sinusoidal}: val.txt of videos named "
        "<video>__<n>, ids of the 400 sorted classes)"),
}
OOC_BENCHMARKS = tuple(_OOC)


def read_ooc_list(path: str | os.PathLike) -> list[tuple[int, str, int]]:
    """``(line number, listed video, label id)`` of an out-of-context list: mmaction2's rawframe lines
    ``<frame folder> <num frames> <label id>`` (as SCUBA's and HAT's lists) or ``<video> <label id>`` /
    ``<video>,<label id>`` lines. The video may contain spaces (``bending back/05mZ...__0 300 20``)."""
    path = os.fspath(path)
    entries = []
    for number, text in read_lines(path):
        if "," in text and not re.search(r"\s\d+$", text):
            listed, _, label = text.rpartition(",")
            tokens = [listed.strip(), label.strip()]
        else:
            tokens = text.split()
        if len(tokens) < 2 or not tokens[-1].isdigit():
            raise ValueError(f"{path}, line {number}: {text!r}; expected `<frame folder> <num frames> <label id>` "
                             "(`v_Basketball_g01_c01__0 120 7`) or `<video> <label id>`.")
        label = int(tokens[-1])
        rest = tokens[:-1]
        if len(rest) >= 2 and rest[-1].isdigit():  # the frame count of a rawframe list
            rest = rest[:-1]
        entries.append((number, " ".join(rest).strip(), label))
    if not entries:
        raise ValueError(f"{path}: no videos listed.")
    return entries


def _ooc_list_files(ooc_lists) -> list[Path]:
    if ooc_lists is None:
        return []
    items = [ooc_lists] if isinstance(ooc_lists, (str, os.PathLike)) else list(ooc_lists)
    files = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".csv"))
            if not found:
                raise ValueError(f"ooc_lists: the folder {str(path)!r} holds no .txt / .csv list.")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"ooc_lists: {str(path)!r} does not exist.")
    return files


def _ooc_video_names(listed: str) -> list[str]:
    """File names a listed synthetic video may have: as listed when it has a video extension, else the listed
    name (a frame folder) with each video extension."""
    from .own_data import VIDEO_EXTENSIONS

    name = listed.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem, ext = os.path.splitext(name)
    if ext.lower() in VIDEO_EXTENSIONS:
        return [name] + [stem + suffix for suffix in VIDEO_EXTENSIONS if stem + suffix != name]
    return [name + suffix for suffix in VIDEO_EXTENSIONS]


def _ooc_set_name(list_file: Path, files: Sequence[Path]) -> str:
    """What the ``source`` column calls a list: its folder and name when the lists share file names."""
    if sum(f.name == list_file.name for f in files) > 1:
        return f"{list_file.parent.name}/{list_file.name}"
    return list_file.name


def load_out_of_context(benchmark: str, cache_dir=None, *, data_dir=None, annotation_dir=None, ooc_lists=None,
                        ooc_dir=None, ooc_class_names=None, k400_dir=None, k400_annotation_dir=None,
                        reports: dict | None = None) -> ProtocolData:
    """Out-of-context evaluation on ``benchmark`` (``ucf-scuba``, ``ucf-hat``, ``k400-scuba``): see the module
    docstring. Columns of ``test``: ``video``, ``label``, ``context`` (``in`` / ``out``), ``source`` (``original``
    or the list's name).
    """
    import datasets

    if benchmark not in _OOC:
        raise ValueError(f"Unknown out-of-context benchmark {benchmark!r}; use one of {list(OOC_BENCHMARKS)}.")
    ooc = _OOC[benchmark]
    protocol = f"ooc-{benchmark}"
    data_dir = _need(data_dir, protocol)
    list_files = _ooc_list_files(ooc_lists)
    if not list_files:
        raise ValueError(f"Protocol {protocol!r} needs ooc_lists=: {ooc.source}. See `hfvideoclip.data.benchmarks`.")
    bench = _BENCHMARKS[ooc.dataset]
    original, report = bench.build_eval(data_dir, annotation_dir=annotation_dir, cache_dir=cache_dir)
    _store(reports, "in", report)
    vocabulary = list(original.features["label"].names)
    list_names = vocabulary
    if ooc_class_names is not None:
        names, _ = read_class_names(ooc_class_names)
        list_names = match_class_names(names, vocabulary, f"ooc_class_names {os.fspath(ooc_class_names)}")
    position = {name: i for i, name in enumerate(vocabulary)}
    meta = {"context": datasets.Value("string"), "source": datasets.Value("string")}
    with _quiet():
        parts = [original.select_columns(["video", "label"])
                 .add_column("context", ["in"] * len(original))
                 .add_column("source", ["original"] * len(original))]
    if ooc_dir is None or isinstance(ooc_dir, (str, os.PathLike)):
        video_dirs = [list_file.parent if ooc_dir is None else Path(ooc_dir).expanduser() for list_file in list_files]
    else:
        video_dirs = [Path(folder).expanduser() for folder in ooc_dir]
        if len(video_dirs) != len(list_files):
            raise ValueError(f"ooc_dir: {len(video_dirs)} folders for {len(list_files)} lists; give one folder, or "
                             "one per list in the order of ooc_lists.")
    for list_file, video_dir in zip(list_files, video_dirs):
        set_name = _ooc_set_name(list_file, list_files)
        index = load_index(video_dir, cache_dir=cache_dir)
        rows = []
        for number, listed, label in read_ooc_list(list_file):
            if not 0 <= label < len(list_names):
                raise ValueError(f"{list_file}, line {number}: class id {label} is outside 0..{len(list_names) - 1} "
                                 f"({bench.title} has {len(vocabulary)} classes); pass ooc_class_names= when the "
                                 "list numbers the classes in another order.")
            rows.append(Row(names=_ooc_video_names(listed), label=position[list_names[label]], listed=listed,
                            meta={"context": "out", "source": set_name}))
        built, list_report = assemble(rows, class_names=vocabulary, meta_features=meta, index=index,
                                      dataset=f"{protocol} {set_name}", annotation_files=[os.fspath(list_file)],
                                      streaming=False, num_shards=DEFAULT_NUM_SHARDS, return_report=True)
        _store(reports, f"out/{set_name}", list_report)
        parts.append(built)
    with _quiet():
        test = datasets.concatenate_datasets([part.cast(parts[-1].features) for part in parts])
    training = _k400_train(k400_dir, k400_annotation_dir, cache_dir, reports)
    return ProtocolData(name=protocol, splits=[ProtocolSplit(name="split1", train=training, eval={"test": test})],
                        root=os.fspath(data_dir), group_column=OOC_GROUP_COLUMN,
                        params=_params(data_dir=data_dir, annotation_dir=annotation_dir,
                                       ooc_lists=[os.fspath(f) for f in list_files],
                                       ooc_dir=[os.fspath(d) for d in video_dirs],
                                       ooc_class_names=ooc_class_names, k400_dir=k400_dir,
                                       k400_annotation_dir=k400_annotation_dir, hm_groups=list(OOC_HM_GROUPS)))


# ------------------------------------------------------------------------------------------------- registry
_K400_TRAIN = "optional k400_dir: Kinetics-400 train CSV and videos (the training set)"


def _needs() -> dict[str, str]:
    needs = {}
    for key in B2N_DATASETS:
        bench = _BENCHMARKS[key]
        needs[f"b2n-{key}"] = (f"data_dir: {bench.title} videos and {bench.needs} (eval: {bench.evaluation}), plus "
                               "the training videos named in the shipped ViFi-CLIP lists (not with train=False)")
    for key in XD_DATASETS:
        bench = _BENCHMARKS[key]
        files = ("ucfTrainTestlist/classInd.txt and testlist01-03.txt (trainlist01.txt too with full=True)"
                 if key == "ucf101" else "the <class>_test_split1-3.txt split files")
        needs[f"xd-{key}"] = f"data_dir: {bench.title} videos and {files}; {_K400_TRAIN}"
    needs["xd-k600"] = ("data_dir: Kinetics-600 val CSV and val videos (with eval_lists=: the videos named in ViFi-CLIP's "
                        f"ZS_split1-3_K600_eval.txt); {_K400_TRAIN}")
    for shots in SHOTS:
        for key in FEW_SHOT_DATASETS:
            bench = _BENCHMARKS[key]
            needs[f"fs{shots}-{key}"] = (f"data_dir: {bench.title} videos and {bench.needs} (eval: "
                                         f"{bench.evaluation}), plus the training videos named in the shipped "
                                         "ViFi-CLIP list")
    return needs


def _ooc_needs() -> dict[str, str]:
    needs = {}
    for key, ooc in _OOC.items():
        bench = _BENCHMARKS[ooc.dataset]
        needs[f"ooc-{key}"] = (f"data_dir: {bench.title} videos and {bench.needs} (in context: {bench.evaluation}); "
                               f"ooc_lists: {ooc.source}; ooc_dir: those videos, one file per listed frame folder "
                               f"(<folder name>.mp4); {_K400_TRAIN}")
    return needs


BENCHMARK_PROTOCOL_NAMES = tuple(_needs())
"""The in-context benchmark protocols (``b2n-*``, ``xd-*``, ``fs<K>-*``)."""
OOC_PROTOCOL_NAMES = tuple(f"ooc-{key}" for key in _OOC)
"""The out-of-context protocols (``ooc-*``)."""
PROTOCOL_NEEDS: dict[str, str] = {**_needs(), **_ooc_needs()}
"""What each benchmark protocol needs on disk."""
def _loader(name: str, function: Callable, *args) -> Callable[..., ProtocolData]:
    def load(cache_dir=None, **params) -> ProtocolData:
        return function(*args, cache_dir=cache_dir, **params)

    load.__name__ = load.__qualname__ = f"load_{name.replace('-', '_')}"
    load.__doc__ = f"The protocol {name!r} ({PROTOCOL_NEEDS[name]}); see `hfvideoclip.data.benchmarks`."
    load.__module__ = __name__
    return load


def _register_all() -> None:
    from . import protocols

    loaders = {f"b2n-{key}": _loader(f"b2n-{key}", load_b2n, key) for key in B2N_DATASETS}
    loaders.update({f"xd-{key}": _loader(f"xd-{key}", load_cross_dataset, key) for key in XD_DATASETS})
    loaders["xd-k600"] = _loader("xd-k600", load_k600)
    for shots in SHOTS:
        for key in FEW_SHOT_DATASETS:
            loaders[f"fs{shots}-{key}"] = _loader(f"fs{shots}-{key}", load_few_shot, key, shots)
    for key in _OOC:
        loaders[f"ooc-{key}"] = _loader(f"ooc-{key}", load_out_of_context, key)
    for name, loader in loaders.items():
        existing = protocols._REGISTRY.get(name)
        # re-importing this module (importlib.reload) replaces its own loaders, never a user's protocol
        register_protocol(name, loader, overwrite=getattr(existing, "__module__", None) == __name__)


def describe_protocols() -> list[tuple[str, str]]:
    """``(name, what it needs on disk)`` for every registered protocol, in registration order (for
    ``hfvideoclip data list``)."""
    from . import protocols

    described = []
    for name in available_protocols():
        if name in PROTOCOL_NEEDS:
            needs = PROTOCOL_NEEDS[name]
        else:
            needs = protocols.loader_description(name)
        described.append((name, needs))
    return described


_register_all()

__all__ = ["BENCHMARK_PROTOCOL_NAMES", "OOC_BENCHMARKS", "OOC_GROUP_COLUMN", "OOC_HM_GROUPS", "OOC_PROTOCOL_NAMES",
           "PROTOCOL_NEEDS", "SHIPPED_SPLITS_DIR", "b2n_classes", "build_published_list", "class_key",
           "describe_protocols", "few_shot_classes", "k600_split_classes", "load_b2n", "load_cross_dataset",
           "load_few_shot", "load_k600", "load_out_of_context", "match_class_names", "read_ooc_list",
           "read_published_classes", "read_published_list", "select_classes"]
