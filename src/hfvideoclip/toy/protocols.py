"""Evaluation protocols of the toy world as `datasets.Dataset`s of mp4 paths.

``load_protocol(name, cache_dir=None, **params)`` returns a `hfvideoclip.data.ProtocolData` whose splits hold a
training set (or None) and named evaluation sets; the four protocols are also registered by name in
`hfvideoclip.data.protocols`. Every dataset has the columns ``video`` (path to an mp4), ``label``
(`datasets.ClassLabel`; its ``names`` are the natural-language class names, i.e. the dataset's vocabulary),
``shape``, ``colour``, ``motion``, ``background`` and ``motion_kind`` (``"direction-free"`` or
``"direction-pair"``, so results on time-reversal pairs can be reported apart: `GROUP_COLUMN`; ``colour``,
``shape`` and ``motion`` give ``<column>_top1``: `METRIC_COLUMNS`).

Protocols (the toy analogues of the papers' benchmarks, design doc section 6):

- ``toy-still``: zero-shot on videos of still coloured shapes; eval ``base`` = colour-shape pairs seen while
  pretraining the tiny CLIP, ``novel`` = the held-out pairs. No training set.
- ``toy-b2n``: base-to-novel over motion-shape classes ("a star moving left"); per split, about half of the
  combinations are base (K shots each for training) and the rest novel; every shape and every motion has base
  combinations. Eval ``base`` and ``novel``, each in its own vocabulary.
- ``toy-xd``: cross-dataset. Train on motion-shape classes over source motions; test on colour-shape-motion
  classes ("a red star bouncing"): per split, every combination of a few sampled colour-shape objects and a
  few sampled target motions (some of them absent from the source), so both object and motion knowledge
  count. Every test class name is new to the source vocabulary. Eval ``test``.
- ``toy-ooc``: out of context. Motion classes ("a shape rotating"); in training each motion mostly appears on
  its own background, at test always on another motion's background. Eval ``test``.

Videos are generated once per parameter set into ``<cache>/<name>-<hash of params>/`` (default cache:
``$HFVIDEOCLIP_CACHE/toy``, else ``~/.cache/hfvideoclip/toy``): written into a temporary directory, then
renamed into place, so an interrupted run never leaves a partial cache. Later calls reuse the files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from ..data.protocols import ProtocolData, ProtocolSplit
from .encode import DEFAULT_FPS, write_mp4
from .render import DEFAULT_NUM_FRAMES, DEFAULT_SIZE, VIDEO_TRAIL_STRENGTH, render_clip
from .world import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT_PAIRS,
    MOTIONS,
    SHAPES,
    ClipSpec,
    colour_motion_shape_name,
    colour_shape_name,
    is_valid,
    motion_kind,
    motion_name,
    motion_shape_name,
    partner_class_names,
)

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 4
"""Part of every cache key: bump it when rendering or encoding changes, so stale caches are not reused."""

PROTOCOL_NAMES = ("toy-still", "toy-b2n", "toy-xd", "toy-ooc")
"""Registered with `hfvideoclip.data.load_protocol` through the `hfvideoclip.protocols` entry points (pyproject)."""
METADATA_COLUMNS = ("shape", "colour", "motion", "background", "motion_kind")
METRIC_COLUMNS = ("colour", "shape", "motion")
"""Columns with one value per class: ``<column>_top1`` tells object knowledge from motion knowledge."""
GROUP_COLUMN = "motion_kind"
"""``top1_direction_free`` / ``top1_direction_pair``: frame-order-blind backbones sit at chance on pairs."""


# ------------------------------------------------------------------------------------------------- defaults

_COMMON = {"seed": 0, "num_frames": DEFAULT_NUM_FRAMES, "size": DEFAULT_SIZE, "fps": DEFAULT_FPS,
           "num_distractors": None, "trail_strength": VIDEO_TRAIL_STRENGTH}

DEFAULT_PARAMS: dict[str, dict] = {
    "toy-still": {**_COMMON, "colours": list(COLOURS), "shapes": list(SHAPES),
                  "held_out": [list(p) for p in HELD_OUT_PAIRS], "videos_per_class": 8},
    "toy-b2n": {**_COMMON, "shapes": list(SHAPES),
                "motions": ["rotating", "blinking", "side to side", "bouncing", "moving left", "moving right",
                            "growing", "shrinking"],
                "shots": 8, "eval_per_class": 8, "num_splits": 3, "base_fraction": 0.5,
                "context_correlation": 0.9, "novel_motions": True},
    "toy-xd": {**_COMMON, "source_shapes": list(SHAPES),
               "source_motions": ["still", "rotating", "blinking", "side to side", "moving left", "moving right"],
               "train_per_class": 8, "target_colours": list(COLOURS), "target_shapes": list(SHAPES),
               "target_motions": ["still", "rotating", "blinking", "bouncing", "moving up", "moving down"],
               "objects_per_split": 4, "motions_per_split": 4, "eval_per_class": 8, "num_splits": 3},
    "toy-ooc": {**_COMMON, "shapes": list(SHAPES),
                "motions": ["rotating", "blinking", "side to side", "bouncing", "moving left", "moving right"],
                "backgrounds": list(BACKGROUNDS), "train_per_class": 16, "test_per_class": 16,
                "correlation": 0.9, "in_context_eval": False},
}
"""Default parameters per protocol; any of them can be overridden as keyword arguments of `load_protocol`."""

_RUNTIME_PARAMS = ("num_workers",)  # affect how, not what: not part of the cache key


# --------------------------------------------------------------------------------------------------- helpers


def _video_seed(*parts) -> int:
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class _Plan:
    """Videos to generate (relative path -> spec, seed) and the row tables of every split."""

    def __init__(self, protocol: str, params: dict):
        self.protocol, self.params = protocol, params
        self.videos: dict[str, tuple[dict, int]] = {}
        self.splits: list[dict] = []

    def video(self, role: str, spec: ClipSpec, *key) -> dict:
        seed = _video_seed(self.protocol, self.params["seed"], role, *key)
        relpath = f"videos/{role}/{seed:016x}.mp4"
        self.videos[relpath] = (spec.to_dict(), seed)
        return {"video": relpath, "shape": spec.shape, "colour": spec.colour, "motion": spec.motion,
                "background": spec.background, "motion_kind": motion_kind(spec.motion)}

    @staticmethod
    def table(names: list[str], rows: list[tuple[int, dict]]) -> dict:
        return {"names": names, "rows": [{**row, "label": label} for label, row in rows]}


def _cycle(options: list, i: int, offset: int = 0):
    return options[(i + offset) % len(options)]


def _check_subset(params: dict, key: str, universe) -> list[str]:
    values = list(params[key])
    unknown = [v for v in values if v not in universe]
    if unknown or not values:
        raise ValueError(f"Parameter {key}={values!r}: {'unknown ' + repr(unknown) if unknown else 'empty'}; "
                         f"choose from {list(universe)}.")
    if len(set(values)) != len(values):
        raise ValueError(f"Parameter {key}={values!r} repeats entries; list each once.")
    return values


def _check_positive(params: dict, *keys: str) -> None:
    for key in keys:
        if not isinstance(params[key], int) or params[key] < 1:
            raise ValueError(f"Parameter {key}={params[key]!r}: use a positive integer.")


# ---------------------------------------------------------------------------------------------------- plans


def _plan_still(p: dict) -> _Plan:
    colours, shapes = _check_subset(p, "colours", COLOURS), _check_subset(p, "shapes", SHAPES)
    _check_positive(p, "videos_per_class")
    held = {tuple(pair) for pair in p["held_out"]}
    bad = [pair for pair in held if len(pair) != 2 or pair[0] not in COLOURS or pair[1] not in SHAPES]
    if bad:
        raise ValueError(f"Parameter held_out has invalid (colour, shape) pairs {bad!r}.")
    plan = _Plan("toy-still", p)
    pairs = [(c, s) for c in colours for s in shapes]
    groups = {"base": [q for q in pairs if q not in held], "novel": [q for q in pairs if q in held]}
    if not groups["base"] or not groups["novel"]:
        raise ValueError("toy-still needs both seen and held-out colour-shape pairs among `colours` x `shapes`.")
    evals = {}
    for key, group in groups.items():
        rows = []
        for label, (colour, shape) in enumerate(group):
            for i in range(p["videos_per_class"]):
                spec = ClipSpec(shape, colour, "still", _cycle(list(BACKGROUNDS), i, label), p["num_distractors"])
                rows.append((label, plan.video("eval", spec, colour, shape, i)))
        evals[key] = plan.table([colour_shape_name(c, s) for c, s in group], rows)
    plan.splits.append({"name": "split1", "train": None, "eval": evals})
    return plan


def _assign_base(combos: list[tuple[str, str]], motions: list[str], fraction: float, rng: random.Random):
    """Choose base combinations: per motion ~`fraction` of its shapes, balancing how often each shape is base."""
    base_count: dict[str, int] = {}
    base = set()
    for motion in rng.sample(motions, len(motions)):
        shapes = [s for s, m in combos if m == motion]
        k = min(max(round(len(shapes) * fraction), 1), len(shapes) - 1) if len(shapes) > 1 else len(shapes)
        ranked = sorted(shapes, key=lambda s: (base_count.get(s, 0), rng.random()))
        for shape in ranked[:k]:
            base.add((shape, motion))
            base_count[shape] = base_count.get(shape, 0) + 1
    return [c for c in combos if c in base], [c for c in combos if c not in base]


def _plan_b2n(p: dict) -> _Plan:
    """Base-to-novel over shape-motion classes. With `novel_motions` (default) each split's base classes are all
    the combinations of half the motions and its novel classes those of the other half: novel *actions*, which
    a fine-tuned model has never been trained on and can only name through what its pretraining knows, as
    K400's novel classes are; `novel_motions=False` gives novel *combinations* of motions and shapes seen in
    training (~`base_fraction` of each motion's shapes are base). Few shots per base class, and with
    `context_correlation` c > 0 the
    base classes' training videos show their motion's own background (`BACKGROUNDS[motion index]`) in a
    fraction c of the shots and of the base test videos (drawn from the same distribution, as a benchmark's base
    test set is), while every novel test video shows another motion's background: a shortcut from background to
    motion that pays on base classes and misleads on novel ones, as 16-shot K400 base classes tempt a fine-tuned
    model into scene shortcuts that CLIP's own knowledge does not take."""
    shapes, motions = _check_subset(p, "shapes", SHAPES), _check_subset(p, "motions", MOTIONS)
    _check_positive(p, "shots", "eval_per_class", "num_splits")
    if not 0 < p["base_fraction"] < 1:
        raise ValueError(f"Parameter base_fraction={p['base_fraction']!r}: use a fraction in (0, 1), e.g. 0.5.")
    correlation = float(p.get("context_correlation", 0.0))
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"Parameter context_correlation={correlation!r}: use a fraction in [0, 1] (0: none).")
    plan = _Plan("toy-b2n", p)
    combos = [(s, m) for m in motions for s in shapes if is_valid(s, m)]
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    own_background = {m: backgrounds[i % len(backgrounds)] for i, m in enumerate(motions)}

    def background_for(motion: str, role: str, novel: bool, i: int, index: int) -> str:
        count = p["shots"] if role == "train" else p["eval_per_class"]
        if correlation > 0 and not novel and i < round(correlation * count):
            return own_background[motion]
        if correlation > 0 and novel:
            others = [b for b in backgrounds if b != own_background[motion]]
            return _cycle(others, i, index)
        return _cycle(backgrounds, i, 2 * index)

    def rows_for(group, role, count, novel=False):
        rows = []
        for label, (shape, motion) in enumerate(group):
            index = combos.index((shape, motion))
            for i in range(count):
                spec = ClipSpec(shape, _cycle(colours, i, index), motion,
                                background_for(motion, role, novel, i, index), p["num_distractors"])
                rows.append((label, plan.video(role, spec, shape, motion, i)))
        return rows

    for split in range(p["num_splits"]):
        rng = random.Random(f"b2n-{p['seed']}-{split}")
        if p.get("novel_motions", False):
            order = rng.sample(motions, len(motions))
            base_motions = set(order[:max(1, min(len(order) - 1, round(p["base_fraction"] * len(order))))])
            base = [c for c in combos if c[1] in base_motions]
            novel = [c for c in combos if c[1] not in base_motions]
        else:
            base, novel = _assign_base(combos, motions, p["base_fraction"], rng)
        base_names = [motion_shape_name(s, m) for s, m in base]
        plan.splits.append({
            "name": f"split{split + 1}",
            "train": plan.table(base_names, rows_for(base, "train", p["shots"])),
            "eval": {"base": plan.table(base_names, rows_for(base, "eval", p["eval_per_class"])),
                     "novel": plan.table([motion_shape_name(s, m) for s, m in novel],
                                         rows_for(novel, "eval", p["eval_per_class"], novel=True))},
        })
    return plan


def _plan_xd(p: dict) -> _Plan:
    src_shapes = _check_subset(p, "source_shapes", SHAPES)
    src_motions = _check_subset(p, "source_motions", MOTIONS)
    tgt_colours = _check_subset(p, "target_colours", COLOURS)
    tgt_shapes = _check_subset(p, "target_shapes", SHAPES)
    tgt_motions = _check_subset(p, "target_motions", MOTIONS)
    _check_positive(p, "train_per_class", "objects_per_split", "motions_per_split", "eval_per_class", "num_splits")
    plan = _Plan("toy-xd", p)
    colours = list(COLOURS)
    source = [(s, m) for m in src_motions for s in src_shapes if is_valid(s, m)]
    rows = []
    for label, (shape, motion) in enumerate(source):
        for i in range(p["train_per_class"]):
            spec = ClipSpec(shape, _cycle(colours, i, label), motion, _cycle(list(BACKGROUNDS), i, 2 * label),
                            p["num_distractors"])
            rows.append((label, plan.video("train", spec, shape, motion, i)))
    train = plan.table([motion_shape_name(s, m) for s, m in source], rows)

    objects = [(c, s) for c in tgt_colours for s in tgt_shapes]
    for key, pool in (("objects_per_split", objects), ("motions_per_split", tgt_motions)):
        if p[key] > len(pool):
            raise ValueError(f"Parameter {key}={p[key]} exceeds the {len(pool)} available; lower it or widen the "
                             "target vocabulary.")
    target = [(c, s, m) for m in tgt_motions for c, s in objects if is_valid(s, m)]
    for split in range(p["num_splits"]):
        rng = random.Random(f"xd-{p['seed']}-{split}")
        chosen_objects = rng.sample(objects, p["objects_per_split"])
        chosen_motions = rng.sample(tgt_motions, p["motions_per_split"])
        chosen = [t for t in target if t[:2] in chosen_objects and t[2] in chosen_motions]
        rows = []
        for label, (colour, shape, motion) in enumerate(chosen):
            for i in range(p["eval_per_class"]):
                background = _cycle(list(BACKGROUNDS), i, target.index((colour, shape, motion)))
                spec = ClipSpec(shape, colour, motion, background, p["num_distractors"])
                rows.append((label, plan.video("eval", spec, colour, shape, motion, i)))
        names = [colour_motion_shape_name(c, s, m) for c, s, m in chosen]
        plan.splits.append({"name": f"split{split + 1}", "train": train, "eval": {"test": plan.table(names, rows)}})
    return plan


def _plan_ooc(p: dict) -> _Plan:
    shapes, motions = _check_subset(p, "shapes", SHAPES), _check_subset(p, "motions", MOTIONS)
    backgrounds = _check_subset(p, "backgrounds", BACKGROUNDS)
    _check_positive(p, "train_per_class", "test_per_class")
    if len(motions) < 2 or len(backgrounds) < len(motions):
        raise ValueError(f"toy-ooc pairs each motion with its own background: {len(motions)} motions need at least "
                         f"as many backgrounds (got {len(backgrounds)}) and at least 2 motions.")
    if not 0 <= p["correlation"] <= 1:
        raise ValueError(f"Parameter correlation={p['correlation']!r}: use a fraction in [0, 1].")
    plan = _Plan("toy-ooc", p)
    colours = list(COLOURS)
    context = dict(zip(motions, backgrounds))
    names = [motion_name(m) for m in motions]

    def rows_for(role: str, count: int, in_context: Callable[[int], bool]):
        rows = []
        for label, motion in enumerate(motions):
            valid_shapes = [s for s in shapes if is_valid(s, motion)]
            others = [context[m] for m in motions if m != motion]
            for i in range(count):
                background = context[motion] if in_context(i) else _cycle(others, i, label)
                spec = ClipSpec(_cycle(valid_shapes, i, label), _cycle(colours, i, 3 * label), motion, background,
                                p["num_distractors"])
                rows.append((label, plan.video(role, spec, motion, i)))
        return rows

    num_in_context = round(p["correlation"] * p["train_per_class"])
    evals = {"test": plan.table(names, rows_for("test", p["test_per_class"], lambda i: False))}
    if p["in_context_eval"]:
        evals["in_context"] = plan.table(names, rows_for("in_context", p["test_per_class"], lambda i: True))
    plan.splits.append({"name": "split1",
                        "train": plan.table(names, rows_for("train", p["train_per_class"],
                                                            lambda i: i < num_in_context)),
                        "eval": evals})
    return plan


_PLANNERS: dict[str, Callable[[dict], _Plan]] = {
    "toy-still": _plan_still, "toy-b2n": _plan_b2n, "toy-xd": _plan_xd, "toy-ooc": _plan_ooc,
}

# ----------------------------------------------------------------------------------------------- generation


def default_cache_dir() -> str:
    """``$HFVIDEOCLIP_CACHE/toy`` if the variable is set, else ``~/.cache/hfvideoclip/toy``."""
    root = os.environ.get("HFVIDEOCLIP_CACHE") or os.path.join("~", ".cache", "hfvideoclip")
    return os.path.join(os.path.expanduser(root), "toy")


def _render_and_write(job: tuple[str, dict, int, int, int, int, float]) -> None:
    path, spec, seed, num_frames, size, fps, trail_strength = job
    write_mp4(render_clip(spec, seed, num_frames=num_frames, size=size, trail_strength=trail_strength), path, fps)


def _generate(plan: _Plan, directory: Path, num_workers: int) -> None:
    p = plan.params
    for sub in {Path(rel).parent for rel in plan.videos}:
        (directory / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(str(directory / rel), spec, seed, p["num_frames"], p["size"], p["fps"], p.get("trail_strength", 0.0))
            for rel, (spec, seed) in sorted(plan.videos.items())]
    start = time.perf_counter()
    # disable=None: the bar shows on a terminal only, not in logs
    bar = tqdm(total=len(jobs), desc=f"generating {plan.protocol}", unit="video", disable=None)
    try:
        # fork workers only: rendering is numpy + PyAV, and fork needs no `if __name__ == "__main__"` guard in callers
        if num_workers > 1 and len(jobs) > 64 and sys.platform.startswith("linux"):
            with multiprocessing.get_context("fork").Pool(num_workers) as pool:
                for _ in pool.imap_unordered(_render_and_write, jobs, chunksize=16):
                    bar.update(1)
        else:
            for job in jobs:
                _render_and_write(job)
                bar.update(1)
    finally:
        bar.close()
    logger.info("%s: generated %d videos in %.1f s", plan.protocol, len(jobs), time.perf_counter() - start)


def _dataset(table: dict, root: Path):
    import datasets

    from ..data.video_column import video_feature

    features = datasets.Features({"video": video_feature(),
                                  "label": datasets.ClassLabel(names=table["names"]),
                                  **{column: datasets.Value("string") for column in METADATA_COLUMNS}})
    rows = table["rows"]
    columns = {"video": [str(root / row["video"]) for row in rows], "label": [row["label"] for row in rows],
               **{column: [row[column] for row in rows] for column in METADATA_COLUMNS}}
    return datasets.Dataset.from_dict(columns, features=features)


def resolve_params(name: str, **params) -> dict:
    """The full parameter set of protocol ``name``: its `DEFAULT_PARAMS` updated with ``params``."""
    if name not in DEFAULT_PARAMS:
        raise ValueError(f"Unknown toy protocol {name!r}; use one of {list(PROTOCOL_NAMES)}.")
    unknown = sorted(set(params) - set(DEFAULT_PARAMS[name]) - set(_RUNTIME_PARAMS))
    if unknown:
        raise ValueError(f"Unknown parameter(s) {unknown} for {name}; valid: {sorted(DEFAULT_PARAMS[name])}.")
    resolved = json.loads(json.dumps({**DEFAULT_PARAMS[name], **params}))  # deep copy; tuples -> lists
    resolved.pop("num_workers", None)
    return resolved


def plan_protocol(name: str, **params):
    """The plan of toy protocol `name` (its splits' class tables and clip specs) without rendering a video."""
    return _PLANNERS[name](resolve_params(name, **params))


def load_protocol(name: str, cache_dir: str | os.PathLike | None = None, **params) -> ProtocolData:
    """Load (generating on first use) the toy protocol ``name`` with ``params`` overriding `DEFAULT_PARAMS`.

    ``num_workers`` (default: up to 2 processes) only sets how many processes render on first use.
    """
    num_workers = int(params.get("num_workers", min(2, os.cpu_count() or 1)))
    resolved = resolve_params(name, **params)
    plan = _PLANNERS[name](resolved)
    key = hashlib.sha256(json.dumps({"protocol": name, "params": resolved, "version": GENERATOR_VERSION},
                                    sort_keys=True).encode()).hexdigest()[:16]
    cache_root = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser()
    root = cache_root / f"{name}-{key}"
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = cache_root / f".tmp-{name}-{key}-{uuid.uuid4().hex[:8]}"
        try:
            _generate(plan, tmp, num_workers)
            manifest = {"protocol": name, "params": resolved, "version": GENERATOR_VERSION, "splits": plan.splits}
            (tmp / "manifest.json").write_text(json.dumps(manifest))
            try:
                os.rename(tmp, root)
            except OSError:
                if not manifest_path.is_file():  # not a concurrent run that finished first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    manifest = json.loads(manifest_path.read_text())
    splits = [ProtocolSplit(name=split["name"],
                            train=None if split["train"] is None else _dataset(split["train"], root),
                            eval={key: _dataset(table, root) for key, table in split["eval"].items()})
              for split in manifest["splits"]]
    return ProtocolData(name=name, splits=splits, root=str(root), params=resolved, metric_columns=METRIC_COLUMNS,
                        group_column=GROUP_COLUMN, partner_classes=partner_class_names())


def _registered_loader(name: str) -> Callable[..., ProtocolData]:
    def load(cache_dir=None, **params) -> ProtocolData:
        return load_protocol(name, cache_dir=cache_dir, **params)

    load.__name__ = load.__qualname__ = f"load_{name.replace('-', '_')}"
    load.__doc__ = "nothing: videos are generated into cache_dir on first use"  # `hfvideoclip data list`
    return load


load_toy_still, load_toy_b2n, load_toy_xd, load_toy_ooc = (_registered_loader(name) for name in PROTOCOL_NAMES)
