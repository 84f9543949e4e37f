import os
from collections import Counter

import datasets
import pytest

from hfvideoclip.data.video_column import video_path
from hfvideoclip.toy import PROTOCOL_NAMES, load_protocol, read_mp4
from hfvideoclip.toy import protocols as P
from hfvideoclip.toy.world import BACKGROUNDS, MOTIONS, SHAPES, is_valid, motion_shape_name


def paths(dataset):
    """The video paths of a built dataset (its `video` column holds datasets.Video(decode=False) values)."""
    return [video_path(video) for video in dataset["video"]]

COLUMNS = ["video", "label", "shape", "colour", "motion", "background", "motion_kind"]


def plan(name, **params):
    """The protocol's tables at these params, without rendering anything."""
    return P._PLANNERS[name](P.resolve_params(name, **params))


def tables(p):
    for split in p.splits:
        if split["train"] is not None:
            yield split["name"], "train", split["train"]
        for key, table in split["eval"].items():
            yield split["name"], key, table


@pytest.mark.parametrize("name", PROTOCOL_NAMES)
def test_default_plans_are_balanced(name):
    p = plan(name)
    for _, key, table in tables(p):
        counts = Counter(row["label"] for row in table["rows"])
        assert sorted(counts) == list(range(len(table["names"]))), (key, "every class has videos")
        assert len(set(counts.values())) == 1, (key, "same number of videos per class")
        assert len(set(table["names"])) == len(table["names"])
        assert {row["motion_kind"] for row in table["rows"]} <= {"direction-free", "direction-pair"}
    for split in p.splits:
        if split["train"] is not None:
            train = {row["video"] for row in split["train"]["rows"]}
            for table in split["eval"].values():
                assert not train & {row["video"] for row in table["rows"]}, "train videos never in eval"


def test_default_sizes_stay_small():
    total = sum(len(plan(name).videos) for name in PROTOCOL_NAMES)
    assert total < 3000


def test_b2n_base_and_novel():
    """Default: novel classes are the combinations of motions no base class shows (novel actions, as K400's novel
    classes are); every shape appears on both sides."""
    p = plan("toy-b2n")
    motions = P.DEFAULT_PARAMS["toy-b2n"]["motions"]
    combos = {(s, m) for s in SHAPES for m in motions if is_valid(s, m)}
    assert len(p.splits) == 3
    bases = []
    for split in p.splits:
        base, novel = set(split["eval"]["base"]["names"]), set(split["eval"]["novel"]["names"])
        assert split["train"]["names"] == split["eval"]["base"]["names"]
        assert not base & novel
        assert base | novel == {motion_shape_name(s, m) for s, m in combos}
        rows = split["train"]["rows"]
        base_motions = {r["motion"] for r in rows}
        novel_motions = {r["motion"] for r in split["eval"]["novel"]["rows"]}
        assert not base_motions & novel_motions and base_motions | novel_motions == set(motions)
        assert len(base_motions) == len(motions) // 2
        assert {r["shape"] for r in rows} == set(SHAPES)
        assert len(rows) == P.DEFAULT_PARAMS["toy-b2n"]["shots"] * len(base)
        bases.append(frozenset(base))
    assert len(set(bases)) == 3, "three different base sets"
    kinds = {r["motion_kind"] for split in p.splits for r in split["eval"]["novel"]["rows"]}
    assert kinds == {"direction-free", "direction-pair"}


def test_b2n_novel_combinations_of_seen_motions_on_request():
    p = plan("toy-b2n", novel_motions=False)
    for split in p.splits:
        train_motions = {r["motion"] for r in split["train"]["rows"]}
        assert train_motions == set(P.DEFAULT_PARAMS["toy-b2n"]["motions"])
        base, novel = split["eval"]["base"]["names"], split["eval"]["novel"]["names"]
        assert abs(len(base) - len(novel)) <= 2


def test_b2n_base_shots_share_their_motions_background_and_novel_videos_never_do():
    """context_correlation: a background -> motion shortcut that fits the base training set and misleads on
    novel classes (their videos show other motions' backgrounds)."""
    motions = P.DEFAULT_PARAMS["toy-b2n"]["motions"]
    own = {m: BACKGROUNDS[i % len(BACKGROUNDS)] for i, m in enumerate(motions)}
    shots, correlation = P.DEFAULT_PARAMS["toy-b2n"]["shots"], P.DEFAULT_PARAMS["toy-b2n"]["context_correlation"]
    assert 0 < correlation < 1
    for split in plan("toy-b2n").splits:
        train = split["train"]["rows"]
        with_own = sum(r["background"] == own[r["motion"]] for r in train)
        assert with_own >= round(correlation * shots) * len(split["train"]["names"])
        novel = split["eval"]["novel"]["rows"]
        assert novel and all(r["background"] != own[r["motion"]] for r in novel)
        base = split["eval"]["base"]["rows"]  # the base test set follows the training distribution
        assert sum(r["background"] == own[r["motion"]] for r in base) / len(base) >= correlation - 0.1
    uncorrelated = plan("toy-b2n", context_correlation=0.0).splits[0]
    novel = uncorrelated["eval"]["novel"]["rows"]
    assert any(r["background"] == own[r["motion"]] for r in novel)


def test_xd_target_vocabularies_are_new():
    p = plan("toy-xd")
    source = set(p.splits[0]["train"]["names"])
    targets = [set(split["eval"]["test"]["names"]) for split in p.splits]
    for target in targets:
        assert len(target & source) <= len(target) // 2
        assert len(target) >= 12
    assert len({frozenset(t) for t in targets}) == 3
    target_motions = {r["motion"] for s in p.splits for r in s["eval"]["test"]["rows"]}
    assert target_motions - set(P.DEFAULT_PARAMS["toy-xd"]["source_motions"]), "some target motions are new"


def test_ooc_backgrounds_contradict_motion_at_test():
    params = P.DEFAULT_PARAMS["toy-ooc"]
    context = dict(zip(params["motions"], params["backgrounds"]))
    split = plan("toy-ooc", in_context_eval=True).splits[0]
    train = split["train"]["rows"]
    in_context = sum(r["background"] == context[r["motion"]] for r in train) / len(train)
    assert in_context == pytest.approx(params["correlation"], abs=0.05)
    assert all(r["background"] != context[r["motion"]] for r in split["eval"]["test"]["rows"])
    assert all(r["background"] == context[r["motion"]] for r in split["eval"]["in_context"]["rows"])


def test_still_base_is_seen_and_novel_is_held_out():
    split = plan("toy-still").splits[0]
    assert split["train"] is None
    held = {f"a {c} {s}" for c, s in P.DEFAULT_PARAMS["toy-still"]["held_out"]}
    assert set(split["eval"]["novel"]["names"]) == held
    assert not set(split["eval"]["base"]["names"]) & held
    assert {r["motion"] for t in split["eval"].values() for r in t["rows"]} == {"still"}


SMALL = {"shots": 2, "eval_per_class": 1, "num_splits": 2, "motions": ["blinking", "moving left", "moving right"],
         "num_workers": 1}


def test_load_generates_datasets_and_reuses_the_cache(tmp_path, monkeypatch):
    data = load_protocol("toy-b2n", cache_dir=tmp_path, **SMALL)
    assert data.name == "toy-b2n" and len(data.splits) == 2
    split = data.splits[0]
    assert set(split.eval) == {"base", "novel"}
    for ds in [split.train, *split.eval.values()]:
        assert isinstance(ds, datasets.Dataset)
        assert ds.column_names == COLUMNS
        assert isinstance(ds.features["label"], datasets.ClassLabel)
        assert all(os.path.isfile(v) for v in paths(ds))
    row = split.train[0]
    assert split.train.features["label"].names[row["label"]] == motion_shape_name(row["shape"], row["motion"])
    assert row["motion_kind"] == MOTIONS[row["motion"]].kind
    assert read_mp4(video_path(row["video"])).shape == (16, 64, 64, 3)
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp")]

    def fail(job):
        raise AssertionError("regenerated a cached protocol")

    monkeypatch.setattr(P, "_render_and_write", fail)
    again = load_protocol("toy-b2n", cache_dir=tmp_path, **{**SMALL, "num_workers": 2})
    assert again.root == data.root
    assert again.splits[1].eval["novel"]["video"] == data.splits[1].eval["novel"]["video"]
    with pytest.raises(AssertionError, match="regenerated"):  # other params: another cache entry
        load_protocol("toy-b2n", cache_dir=tmp_path, **{**SMALL, "seed": 1})


def test_interrupted_generation_leaves_no_cache(tmp_path, monkeypatch):
    calls = []
    real = P._render_and_write

    def crash_midway(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(job)

    monkeypatch.setattr(P, "_render_and_write", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        load_protocol("toy-ooc", cache_dir=tmp_path, train_per_class=1, test_per_class=1, num_workers=1)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(P, "_render_and_write", real)
    data = load_protocol("toy-ooc", cache_dir=tmp_path, train_per_class=1, test_per_class=1, num_workers=1)
    assert len(data.splits[0].eval["test"]) == 6


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HFVIDEOCLIP_CACHE", str(tmp_path))
    assert P.default_cache_dir() == os.path.join(str(tmp_path), "toy")
    monkeypatch.delenv("HFVIDEOCLIP_CACHE")
    assert P.default_cache_dir() == os.path.expanduser(os.path.join("~", ".cache", "hfvideoclip", "toy"))


def test_bad_requests_raise(tmp_path):
    with pytest.raises(ValueError, match="toy-b2n"):
        load_protocol("toy-nope", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="shotz"):
        load_protocol("toy-b2n", cache_dir=tmp_path, shotz=3)
    with pytest.raises(ValueError, match="hexagon"):
        load_protocol("toy-b2n", cache_dir=tmp_path, shapes=["hexagon"])
    with pytest.raises(ValueError, match="backgrounds"):
        load_protocol("toy-ooc", cache_dir=tmp_path, backgrounds=["plain", "dots"])
    assert os.listdir(tmp_path) == []


def test_generation_shows_progress_and_protocol_metrics(tmp_path, monkeypatch):
    bars = []

    class Bar:
        def __init__(self, total, **kwargs):
            self.total, self.count, self.closed = total, 0, False
            bars.append(self)

        def update(self, n):
            self.count += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(P, "tqdm", Bar)
    data = load_protocol("toy-ooc", cache_dir=tmp_path, train_per_class=1, test_per_class=1, num_workers=1,
                         num_frames=4, size=32)
    assert len(bars) == 1 and bars[0].total == bars[0].count == 12 and bars[0].closed  # 6 motions x (1 + 1)
    assert data.metric_columns == ("colour", "shape", "motion") and data.group_column == "motion_kind"
    load_protocol("toy-ooc", cache_dir=tmp_path, train_per_class=1, test_per_class=1, num_frames=4, size=32)
    assert len(bars) == 1  # cached: nothing generated, no bar
