"""The papers' protocols on the real benchmarks (`hfvideoclip.data.benchmarks`): the shipped published split files
themselves (line counts and blob ids of SOURCES.md, class sets, shots, the K600 splits), and the loaders on the
miniatures with tiny split files written in the published formats (``splits_dir=``)."""

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hfvideoclip.data import available_protocols, load_protocol
from hfvideoclip.data.benchmarks import (
    BENCHMARK_PROTOCOL_NAMES,
    SHIPPED_SPLITS_DIR,
    b2n_classes,
    class_key,
    describe_protocols,
    few_shot_classes,
    k600_split_classes,
    load_few_shot,
    read_published_classes,
    read_published_list,
    select_classes,
)
from hfvideoclip.data.datasets import build_hmdb51, build_kinetics, build_ssv2, build_ucf101, make_miniature
from hfvideoclip.data.video_column import video_path


def paths(dataset):
    """The video paths of a built dataset (its `video` column holds datasets.Video(decode=False) values)."""
    return [video_path(video) for video in dataset["video"]]

VIFI = SHIPPED_SPLITS_DIR / "vifi_clip"
LABELS = VIFI / "labels"
LISTS = VIFI / "datasets_splits"
ER = SHIPPED_SPLITS_DIR / "er_zsar" / "datasets" / "Kinetics" / "zsl220"

# dataset -> (ViFi-CLIP folder prefix, label stem, full label file, base / novel sizes, number of classes)
PUBLISHED = {
    "k400": ("k400", "kinetics_400", "kinetics_400_labels.csv", (200, 200), 400),
    "hmdb51": ("hmdb", "hmdb_51", "hmdb_51_labels.csv", (26, 25), 51),
    "ucf101": ("ucf", "ucf_101", "ucf_101_labels.csv", (51, 50), 101),
    "ssv2": ("ssv2", "ssv2_174", "ssv2_labels.csv", (87, 87), 174),
}


def git_blob(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ============================================================================= (a) the shipped published files
def sources_table():
    """{relative path: (lines, git blob)} from the Files table of SOURCES.md."""
    text = (SHIPPED_SPLITS_DIR / "SOURCES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{40})` \|", text, flags=re.MULTILINE)
    return {path: (int(lines), blob) for path, lines, blob in rows}


def test_shipped_files_match_sources_md():
    table = sources_table()
    shipped = {p.relative_to(SHIPPED_SPLITS_DIR).as_posix() for p in SHIPPED_SPLITS_DIR.rglob("*") if p.is_file()}
    assert shipped - {"SOURCES.md"} == set(table), "every shipped file is listed in SOURCES.md, and only those"
    for relative, (lines, blob) in table.items():
        path = SHIPPED_SPLITS_DIR / relative
        assert len(path.read_text(encoding="utf-8-sig").splitlines()) == lines, relative
        assert git_blob(path) == blob, f"{relative} differs from the copy SOURCES.md records"
    assert sum((SHIPPED_SPLITS_DIR / r).stat().st_size for r in table) < 1_100_000


@pytest.mark.parametrize("dataset", list(PUBLISHED))
def test_published_base_novel_classes(dataset):
    _, _, full_file, (num_base, num_novel), num_classes = PUBLISHED[dataset]
    base, novel = b2n_classes(dataset)
    every = read_published_classes(LABELS / full_file)
    assert (len(base), len(novel), len(every)) == (num_base, num_novel, num_classes)
    assert len(set(base)) == num_base and len(set(novel)) == num_novel
    assert not set(base) & set(novel)
    assert set(base) | set(novel) == set(every)


@pytest.mark.parametrize("dataset", list(PUBLISHED))
def test_published_base_training_lists_have_16_shots_per_base_class(dataset):
    prefix = PUBLISHED[dataset][0]
    base, _ = b2n_classes(dataset)
    seeds = []
    for seed in (1, 2, 3):
        entries = read_published_list(LISTS / "base2novel_splits" / f"{prefix}_splits" / f"fs_base_s{seed}_train.txt")
        assert Counter(label for _, _, label in entries) == {i: 16 for i in range(len(base))}
        videos = [video for _, video, _ in entries]
        assert len(set(videos)) == len(videos) == 16 * len(base)
        seeds.append(set(videos))
    assert seeds[0] != seeds[1] != seeds[2] != seeds[0]


@pytest.mark.parametrize("dataset", ["hmdb51", "ucf101", "ssv2"])
@pytest.mark.parametrize("shots", [2, 4, 8, 16])
def test_published_few_shot_lists(dataset, shots):
    prefix, _, full_file, _, num_classes = PUBLISHED[dataset]
    entries = read_published_list(LISTS / f"{prefix}_splits" / f"train1_few_shot_{shots}.txt")
    assert Counter(label for _, _, label in entries) == {i: shots for i in range(num_classes)}
    assert len({video for _, video, _ in entries}) == shots * num_classes


def _class_in_file_name(dataset, video, name):
    """Whether the file name of a UCF / HMDB video names ``name`` (the published ids read through the right file)."""
    if dataset == "ucf101":
        return class_key(re.fullmatch(r"v_(.+)_g\d+_c\d+\.avi", video).group(1)) == class_key(name)
    return re.search(rf"_{re.escape(name.replace(' ', '_'))}_[fhul]_", video) is not None


@pytest.mark.parametrize("dataset", ["hmdb51", "ucf101"])
def test_published_ids_name_the_class_in_the_file_names(dataset):
    """Every listed UCF / HMDB video's file name names the class its id is read as (HMDB: in sorted order)."""
    prefix = PUBLISHED[dataset][0]
    every = few_shot_classes(dataset)
    base, _ = b2n_classes(dataset)
    files = [(LISTS / f"{prefix}_splits" / f"train1_few_shot_{k}.txt", every) for k in (2, 4, 8, 16)]
    files += [(LISTS / "base2novel_splits" / f"{prefix}_splits" / f"fs_base_s{s}_train.txt", base) for s in (1, 2, 3)]
    for path, names in files:
        for _, video, label in read_published_list(path):
            assert _class_in_file_name(dataset, video, names[label]), (path.name, video, names[label])


def test_hmdb_class_files_swap_two_pairs_against_the_list_ids():
    """The erratum the loader corrects: ViFi-CLIP's HMDB class-name files against the ids of its lists."""
    for path, read in [("hmdb_51_labels.csv", few_shot_classes("hmdb51")), ("hmdb_51_base_labels.csv",
                                                                             b2n_classes("hmdb51")[0]),
                       ("hmdb_51_novel_labels.csv", b2n_classes("hmdb51")[1])]:
        as_written = read_published_classes(LABELS / path)
        assert read == sorted(as_written)
        swapped = {(a, b) for a, b in zip(as_written, read) if a != b}
        assert swapped <= {("kick ball", "kick"), ("kick", "kick ball"), ("sword exercise", "sword"),
                           ("sword", "sword exercise")} and swapped, path
    for dataset in ("ucf101", "ssv2"):  # read in the files' order
        assert few_shot_classes(dataset) == read_published_classes(LABELS / PUBLISHED[dataset][2])


def test_published_k600_splits_are_160_classes_new_to_k400():
    k400 = read_published_classes(LABELS / "kinetics_400_labels.csv")
    classes620 = (ER / "classes620.txt").read_text().splitlines()
    assert len(classes620) == 620 and classes620[:400] == k400
    splits = k600_split_classes()
    assert [len(s) for s in splits] == [160, 160, 160]
    keys_400 = {class_key(name) for name in k400}
    for number, classes in enumerate(splits, start=1):
        assert len(set(classes)) == 160
        assert not {class_key(name) for name in classes} & keys_400, "a K600 split holds a Kinetics-400 class"
        assert set(classes) <= set(classes620[400:])
        # the same classes as ViFi-CLIP's label files (and in the same, sorted, order)
        assert read_published_classes(LABELS / f"ZS_split{number}_K600.csv") == sorted(classes) == classes
    assert len({tuple(s) for s in splits}) == 3
    assert len(set().union(*splits)) <= 220


def test_registered_names_and_descriptions():
    expected = ({f"b2n-{d}" for d in ("k400", "hmdb51", "ucf101", "ssv2")} | {"xd-ucf101", "xd-hmdb51", "xd-k600"}
                | {f"fs{k}-{d}" for k in (2, 4, 8, 16) for d in ("hmdb51", "ucf101", "ssv2")})
    assert set(BENCHMARK_PROTOCOL_NAMES) == expected
    assert expected <= set(available_protocols())
    described = dict(describe_protocols())
    assert list(described) == available_protocols()
    assert all(described[name].startswith("data_dir:") for name in expected)
    assert "nothing" in described["toy-b2n"]
    with pytest.raises(ValueError, match=r"'b2n-ucf101' needs data_dir=: .*classInd\.txt"):
        load_protocol("b2n-ucf101")
    with pytest.raises(ValueError, match=r"shots=3"):
        load_few_shot("ucf101", 3, data_dir=".")


def test_registration_does_not_import_datasets():
    code = ("import sys, hfvideoclip.data, hfvideoclip.data.benchmarks as b; "
            "assert 'datasets' not in sys.modules, 'datasets imported'; "
            "assert 'b2n-k400' in hfvideoclip.data.available_protocols(); print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


# ============================================================================ (b) loaders on the miniatures
@pytest.fixture(scope="module")
def minis(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-miniatures")
    return {name: make_miniature(name, root / name) for name in ("kinetics400", "kinetics600", "ucf101", "hmdb51",
                                                                  "ssv2")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-index-cache")


MINI = {"k400": "kinetics400", "hmdb51": "hmdb51", "ucf101": "ucf101", "ssv2": "ssv2"}
MISSING = {"k400": "train/zzzzzzzzzzz_000000_000010.mp4", "hmdb51": "Nowhere_brush_hair_u_nm_np1_ba_goo_9.avi",
           "ucf101": "v_YoYo_g99_c09.avi", "ssv2": "999999999.webm"}


def official(dataset, mini, cache, subset):
    """The miniature's official evaluation (``"eval"``) or training (``"train"``) set, built independently."""
    root = mini.root
    if dataset == "k400":
        return build_kinetics(root, "val" if subset == "eval" else "train", cache_dir=cache)
    if dataset == "ssv2":
        return build_ssv2(root, "validation" if subset == "eval" else "train", cache_dir=cache)
    builder = build_ucf101 if dataset == "ucf101" else build_hmdb51
    return builder(root, 1, "test" if subset == "eval" else "train", cache_dir=cache)


def published_spelling(dataset, mini):
    """{class name: how the published files spell it}: UCF's CamelCase classInd names, else the names themselves."""
    if dataset != "ucf101":
        return {name: name for name in mini.class_names}
    raw = [line.split()[1] for line in mini.annotation_files["classes"].read_text().splitlines()]
    return dict(zip(mini.class_names, raw))


def list_order(dataset, names):
    """The published lists' id order of the classes of a class-name file (HMDB: sorted, the erratum)."""
    return sorted(names) if dataset == "hmdb51" else list(names)


def write_classes(path: Path, names):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        writer.writerows(enumerate(names))


def listed_name(dataset, video_path):
    name = os.path.basename(video_path)
    return f"train/{name}" if dataset == "k400" else name


def by_video(ds):
    names = ds.features["label"].names
    return {os.path.basename(v): names[label] for v, label in zip(paths(ds), ds["label"])}


def per_class(ds):
    names = ds.features["label"].names
    out = {}
    for video, label in zip(paths(ds), ds["label"]):
        out.setdefault(names[label], []).append(video)
    return out


@pytest.mark.parametrize("dataset", list(MINI))
def test_b2n_on_miniature(dataset, minis, cache, tmp_path):
    mini = minis[MINI[dataset]]
    prefix, stem = PUBLISHED[dataset][:2]
    full = official(dataset, mini, cache, "eval")
    vocabulary = full.features["label"].names
    spelling = published_spelling(dataset, mini)
    base, novel = vocabulary[0::2][::-1], vocabulary[1::2]  # not the official order
    base, novel = list_order(dataset, base), list_order(dataset, novel)
    splits_dir = tmp_path / "splits"
    write_classes(splits_dir / "vifi_clip" / "labels" / f"{stem}_base_labels.csv", [spelling[n] for n in base])
    write_classes(splits_dir / "vifi_clip" / "labels" / f"{stem}_novel_labels.csv", [spelling[n] for n in novel])
    training = per_class(official(dataset, mini, cache, "train"))
    expected_train = {}
    for seed in (1, 2, 3):
        lines, expected = [], {}
        for label, name in enumerate(base):
            videos = training.get(name, [])
            for j in range(min(2, len(videos))):
                video = videos[(seed + j) % len(videos)]
                listed = listed_name(dataset, video)
                if dataset == "k400" and seed == 1 and not lines:  # the dataset's other extension is found too
                    listed = listed.rsplit(".", 1)[0] + ".webm"
                lines.append(f"{listed} {label}")
                expected[os.path.basename(video)] = name
        lines.insert(1, f"{MISSING[dataset]} 0")
        path = splits_dir / "vifi_clip" / "datasets_splits" / "base2novel_splits" / f"{prefix}_splits"
        path.mkdir(parents=True, exist_ok=True)
        (path / f"fs_base_s{seed}_train.txt").write_text("\n".join(lines) + "\n")
        expected_train[seed] = (expected, len(lines))

    reports = {}
    data = load_protocol(f"b2n-{dataset}", cache_dir=cache, data_dir=mini.root, splits_dir=splits_dir,
                         reports=reports)
    assert data.name == f"b2n-{dataset}" and [s.name for s in data.splits] == ["split1", "split2", "split3"]
    assert data.params["split_source"].startswith("muzairkhattak/ViFi-CLIP") and data.params["shots"] == 16
    json.dumps(data.params)  # written to results.json
    _, full_report = official_report(dataset, mini, cache)
    assert reports["eval"].num_missing == full_report.num_missing
    whole = by_video(full)
    for split in data.splits:
        assert set(split.eval) == {"base", "novel"}
        base_set, novel_set = split.eval["base"], split.eval["novel"]
        assert base_set.features["label"].names == base and novel_set.features["label"].names == novel
        assert not set(base) & set(novel)
        assert by_video(base_set) == {v: n for v, n in whole.items() if n in base}
        assert by_video(novel_set) == {v: n for v, n in whole.items() if n in novel}
        assert base_set.column_names == full.column_names
        train = split.train
        expected, num_listed = expected_train[int(split.name[-1])]
        assert train.features["label"].names == base  # one vocabulary with the base eval set
        assert by_video(train) == expected and all(os.path.isfile(v) for v in paths(train))
        report = reports[f"{split.name}/train"]
        assert report.num_listed == num_listed and report.missing == [MISSING[dataset]]
    assert len(by_video(data.splits[0].eval["base"])) > 0 and len(by_video(data.splits[0].eval["novel"])) > 0

    zero_shot = load_protocol(f"b2n-{dataset}", cache_dir=cache, data_dir=mini.root, splits_dir=splits_dir, train=False)
    assert all(split.train is None for split in zero_shot.splits)


def official_report(dataset, mini, cache):
    root = mini.root
    if dataset == "k400":
        return build_kinetics(root, "val", cache_dir=cache, return_report=True)
    if dataset == "ssv2":
        return build_ssv2(root, "validation", cache_dir=cache, return_report=True)
    builder = build_ucf101 if dataset == "ucf101" else build_hmdb51
    return builder(root, 1, "test", cache_dir=cache, return_report=True)


@pytest.mark.parametrize("dataset", ["hmdb51", "ucf101", "ssv2"])
def test_few_shot_on_miniature(dataset, minis, cache, tmp_path):
    mini = minis[MINI[dataset]]
    prefix, _, full_file = PUBLISHED[dataset][:3]
    test = official(dataset, mini, cache, "eval")
    vocabulary = test.features["label"].names
    spelling = published_spelling(dataset, mini)
    written = vocabulary[::-1]  # ids unlike the official ones: read through the class names
    published = list_order(dataset, written)
    splits_dir = tmp_path / "splits"
    write_classes(splits_dir / "vifi_clip" / "labels" / full_file, [spelling[n] for n in written])
    lines, expected = [f"{MISSING[dataset]} 0"], {}
    for name, videos in per_class(official(dataset, mini, cache, "train")).items():
        for video in videos[:2]:
            lines.append(f"{os.path.basename(video)} {published.index(name)}")
            expected[os.path.basename(video)] = name
    path = splits_dir / "vifi_clip" / "datasets_splits" / f"{prefix}_splits"
    path.mkdir(parents=True)
    (path / "train1_few_shot_2.txt").write_text("\n".join(lines) + "\n")

    reports = {}
    data = load_protocol(f"fs2-{dataset}", cache_dir=cache, data_dir=mini.root, splits_dir=splits_dir, reports=reports)
    assert [s.name for s in data.splits] == ["split1"] and data.params["shots"] == 2
    split = data.splits[0]
    assert list(split.eval) == ["test"]
    assert split.eval["test"].features["label"].names == vocabulary == split.train.features["label"].names
    assert by_video(split.eval["test"]) == by_video(test)
    assert by_video(split.train) == expected
    assert reports["train"].missing == [MISSING[dataset]] and reports["train"].num_listed == len(lines)
    with pytest.raises(ValueError, match=r"train1_few_shot_4\.txt.* is missing"):
        load_protocol(f"fs4-{dataset}", cache_dir=cache, data_dir=mini.root, splits_dir=splits_dir)


@pytest.mark.parametrize("dataset", ["ucf101", "hmdb51"])
def test_cross_dataset_on_miniature(dataset, minis, cache):
    mini, k400 = minis[dataset], minis["kinetics400"]
    builder = build_ucf101 if dataset == "ucf101" else build_hmdb51
    reports = {}
    data = load_protocol(f"xd-{dataset}", cache_dir=cache, data_dir=mini.root, k400_dir=k400.root, reports=reports)
    assert [s.name for s in data.splits] == ["split1", "split2", "split3"]
    k400_train = build_kinetics(k400.root, "train", cache_dir=cache)
    for number, split in enumerate(data.splits, start=1):
        test = builder(mini.root, number, "test", cache_dir=cache)
        assert list(split.eval) == ["test"]
        assert split.eval["test"].features == test.features and by_video(split.eval["test"]) == by_video(test)
        assert split.train is data.splits[0].train and by_video(split.train) == by_video(k400_train)
        assert f"split{number}/test" in reports
    assert reports["k400/train"].num_rows == len(k400_train)

    whole = load_protocol(f"xd-{dataset}", cache_dir=cache, data_dir=mini.root, full=True)
    assert [s.name for s in whole.splits] == ["full"] and whole.splits[0].train is None
    halves = [builder(mini.root, 1, subset, cache_dir=cache) for subset in ("train", "test")]
    every = whole.splits[0].eval["test"]
    assert len(every) == sum(len(h) for h in halves)
    assert by_video(every) == {**by_video(halves[0]), **by_video(halves[1])}


def write_k600_splits(splits_dir: Path, k400_names, new_names, split_indices):
    folder = splits_dir / "er_zsar" / "datasets" / "Kinetics" / "zsl220"
    folder.mkdir(parents=True)
    (folder / "classes620.txt").write_text("".join(f"{n}\n" for n in list(k400_names) + list(new_names)))
    (folder / "tst_class_idxs.json").write_text(json.dumps(split_indices))


def test_k600_on_miniature(minis, cache, tmp_path):
    k600, k400 = minis["kinetics600"], minis["kinetics400"]
    k400_names = minis["kinetics400"].class_names
    new = ["adjusting glasses", "alligator wrestling"]  # the miniature's Kinetics-600 classes not in its Kinetics-400
    splits_dir = tmp_path / "splits"
    write_k600_splits(splits_dir, k400_names, new, [[3, 4], [3], [4]])
    val = build_kinetics(k600.root, "val", version=600, cache_dir=cache)
    whole = by_video(val)
    reports = {}
    data = load_protocol("xd-k600", cache_dir=cache, data_dir=k600.root, splits_dir=splits_dir, k400_dir=k400.root,
                         reports=reports)
    assert [s.name for s in data.splits] == ["split1", "split2", "split3"]
    for split, classes in zip(data.splits, [new, new[:1], new[1:]]):
        test = split.eval["test"]
        assert test.features["label"].names == classes
        assert by_video(test) == {v: n for v, n in whole.items() if n in classes}
        assert len(test) > 0 and not set(classes) & set(k400_names)
        assert len(split.train) == len(build_kinetics(k400.root, "train", cache_dir=cache))
    assert reports["eval"].num_listed == len(val) + reports["eval"].num_missing
    assert data.params["split_source"].startswith("DeLightCMU/ElaborativeRehearsal")

    # ViFi-CLIP's eval lists (ER-ZSAR's videos) instead of the K600 val CSV
    lists = tmp_path / "lists"
    lists.mkdir()
    videos = per_class(val)
    for number, classes in enumerate([new, new[:1], new[1:]], start=1):
        write_classes(splits_dir / "vifi_clip" / "labels" / f"ZS_split{number}_K600.csv", sorted(classes))
        lines = [f"val/{os.path.basename(v)} {sorted(classes).index(n)}" for n in classes for v in videos.get(n, [])]
        (lists / f"ZS_split{number}_K600_eval.txt").write_text("\n".join(lines + ["test/missing0000_000001_000011.mp4 0"])
                                                               + "\n")
    reports = {}
    listed = load_protocol("xd-k600", cache_dir=cache, data_dir=k600.root, splits_dir=splits_dir, eval_lists=lists,
                           reports=reports)
    for split, reference in zip(listed.splits, data.splits):
        assert by_video(split.eval["test"]) == by_video(reference.eval["test"]) and split.train is None
        assert reports[f"{split.name}/test"].missing == ["test/missing0000_000001_000011.mp4"]

    bad = tmp_path / "bad"
    write_k600_splits(bad, k400_names, new + ["juggling fire"], [[3, 5], [3], [4]])
    with pytest.raises(ValueError, match=r"xd-k600 split 1: 1 not in it \('juggling fire'\)"):
        load_protocol("xd-k600", cache_dir=cache, data_dir=k600.root, splits_dir=bad)


def test_select_classes_renumbers_and_keeps_columns(minis, cache):
    test = build_ucf101(minis["ucf101"].root, 1, "test", cache_dir=cache)
    names = test.features["label"].names  # apply eye makeup, handstand pushups, yo yo
    picked = select_classes(test, ["YoYo", "apply eye makeup"])  # matched ignoring case and spaces, kept as given
    assert picked.features["label"].names == ["YoYo", "apply eye makeup"]
    assert picked.column_names == test.column_names
    expected = [(v, {"yo yo": 0, "apply eye makeup": 1}[names[label]]) for v, label in zip(paths(test), test["label"])
                if names[label] != "handstand pushups"]
    assert list(zip(paths(picked), picked["label"])) == expected  # original row order
    assert picked["group"] == [g for g, label in zip(test["group"], test["label"]) if names[label] != "handstand pushups"]
    with pytest.raises(ValueError, match=r"1 not in it \('juggling'\)"):
        select_classes(test, ["yo yo", "juggling"])
    with pytest.raises(ValueError, match="several names are the class 'yo yo'"):
        select_classes(test, ["yo yo", "YoYo"])


def test_b2n_without_training_videos_says_train_false(minis, cache, tmp_path):
    mini = minis["ucf101"]
    labels = tmp_path / "vifi_clip" / "labels"
    write_classes(labels / "ucf_101_base_labels.csv", ["YoYo"])
    write_classes(labels / "ucf_101_novel_labels.csv", ["ApplyEyeMakeup", "HandstandPushups"])
    lists = tmp_path / "vifi_clip" / "datasets_splits" / "base2novel_splits" / "ucf_splits"
    lists.mkdir(parents=True)
    for seed in (1, 2, 3):
        (lists / f"fs_base_s{seed}_train.txt").write_text("v_YoYo_g99_c01.avi 0\nv_YoYo_g98_c01.avi 0\n")
    with pytest.raises(ValueError, match=r"none of the 2 videos listed .* pass train=False"):
        load_protocol("b2n-ucf101", cache_dir=cache, data_dir=mini.root, splits_dir=tmp_path)
    data = load_protocol("b2n-ucf101", cache_dir=cache, data_dir=mini.root, splits_dir=tmp_path, train=False)
    assert data.splits[0].eval["base"].features["label"].names == ["yo yo"]
    assert data.splits[0].eval["novel"].features["label"].names == ["apply eye makeup", "handstand pushups"]
    with pytest.raises(ValueError, match=r"fs_base_s1_train\.txt, line 1: 'v_YoYo\.avi'; expected `<video> <class id>`"):
        (lists / "fs_base_s1_train.txt").write_text("v_YoYo.avi\n")
        load_protocol("b2n-ucf101", cache_dir=cache, data_dir=mini.root, splits_dir=tmp_path)
