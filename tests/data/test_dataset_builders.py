"""Dataset builders (Kinetics, UCF-101, HMDB-51, SSv2, community lists) on their miniatures: rows, class names, label
ids, missing videos, streaming and sharding, the cached file index, and errors for malformed annotation files."""

import csv
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import datasets
import pytest
from datasets.distributed import split_dataset_by_node

from hfvideoclip.data.datasets import (
    MINIATURE_NAMES,
    build_dataset,
    build_from_list,
    build_hmdb51,
    build_kinetics,
    build_ssv2,
    build_ucf101,
    common,
    find_videos,
    make_miniature,
    read_class_names,
)
from hfvideoclip.data.own_data import natural_class_name
from hfvideoclip.data.video_column import video_path


def paths(dataset):
    """The video paths of a built dataset (its `video` column holds datasets.Video(decode=False) values)."""
    return [video_path(video) for video in dataset["video"]]


@pytest.fixture(scope="module")
def minis(tmp_path_factory):
    root = tmp_path_factory.mktemp("miniatures")
    return {name: make_miniature(name, root / name) for name in MINIATURE_NAMES}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("index-cache")


# ----------------------------------------------------------------- what the annotation files list, read independently
def kinetics_listed(path, bare=False):
    """[(video stem, class name)] of a Kinetics CSV (``bare``: videos named by the YouTube id alone)."""
    with open(path, newline="") as handle:
        return [(r["youtube_id"] if bare else f"{r['youtube_id']}_{int(r['time_start']):06d}_{int(r['time_end']):06d}",
                 r["label"]) for r in csv.DictReader(handle)]


def ucf_listed(mini, split, subset):
    lines = mini.annotation_files[f"split{split}/{subset}"].read_text().split()
    paths = [word for word in lines if "/" in word]
    return [(p, natural_class_name(p.split("/")[0])) for p in paths]


def hmdb_listed(mini, split, subset):
    flag = {"train": "1", "test": "2"}[subset]
    out = []
    for raw in ("brush_hair", "flic_flac", "sword_exercise"):
        for line in mini.annotation_files[f"{raw}/split{split}"].read_text().splitlines():
            name, value = line.split()
            if value == flag:
                out.append((name, natural_class_name(raw)))
    return out


def ssv2_listed(mini, subset):
    entries = json.loads(mini.annotation_files[subset].read_text())
    return [(f"{e['id']}.webm", e["template"].replace("[", "").replace("]", "")) for e in entries]


def list_listed(mini, role):
    names = json.loads(mini.annotation_files["classes"].read_text())
    out = []
    for line in mini.annotation_files[role].read_text().splitlines():
        path, label = line.rsplit(",", 1) if "," in line else line.rsplit(" ", 1)
        if label == "label":
            continue
        out.append((path, natural_class_name(names[label] if label.isdigit() else label)))
    return out


CASES = {  # id -> (miniature, build(mini, data_dir, **kw), listed(mini) -> [(key, class)], key of a row)
    "kinetics400-train": ("kinetics400", lambda m, **kw: build_kinetics(m.root, "train", **kw),
                          lambda m: kinetics_listed(m.annotation_files["train"]), "stem"),
    "kinetics400-val": ("kinetics400", lambda m, **kw: build_dataset("kinetics400", m.root, subset="validation", **kw),
                        lambda m: kinetics_listed(m.annotation_files["val"]), "stem"),
    "kinetics400-test": ("kinetics400", lambda m, **kw: build_kinetics(m.root, "test", **kw),
                         lambda m: kinetics_listed(m.annotation_files["test"], bare=True), "stem"),
    "kinetics600-train": ("kinetics600", lambda m, **kw: build_kinetics(m.root, "train", version=600, **kw),
                          lambda m: kinetics_listed(m.annotation_files["train"]), "stem"),
    "kinetics600-val": ("kinetics600", lambda m, **kw: build_kinetics(m.root, "val", version=600, **kw),
                        lambda m: kinetics_listed(m.annotation_files["val"]), "stem"),
    **{f"ucf101-{split}-{subset}": ("ucf101", lambda m, s=split, b=subset, **kw: build_ucf101(m.root, s, b, **kw),
                                    lambda m, s=split, b=subset: ucf_listed(m, s, b), "folder/name")
       for split in (1, 2, 3) for subset in ("train", "test")},
    **{f"hmdb51-{split}-{subset}": ("hmdb51", lambda m, s=split, b=subset, **kw: build_hmdb51(m.root, s, b, **kw),
                                    lambda m, s=split, b=subset: hmdb_listed(m, s, b), "name")
       for split in (1, 2, 3) for subset in ("train", "test")},
    "ssv2-train": ("ssv2", lambda m, **kw: build_ssv2(m.root, "train", **kw), lambda m: ssv2_listed(m, "train"),
                   "name"),
    "ssv2-validation": ("ssv2", lambda m, **kw: build_ssv2(m.root, "val", **kw),
                        lambda m: ssv2_listed(m, "validation"), "name"),
    "list-train": ("list", lambda m, **kw: build_from_list(m.annotation_files["train"], m.annotation_files["classes"],
                                                           **kw), lambda m: list_listed(m, "train"), "relative"),
    "list-val": ("list", lambda m, **kw: build_from_list(m.annotation_files["val"], m.annotation_files["classes"],
                                                         data_dir=m.root, **kw), lambda m: list_listed(m, "val"),
                 "relative"),
}


def row_key(mini, path, kind):
    if kind == "stem":
        return Path(path).stem
    if kind == "folder/name":
        return f"{Path(path).parent.name}/{Path(path).name}"
    if kind == "relative":
        return str(Path(path).relative_to(mini.root))
    return Path(path).name


def build(case, minis, cache, **kw):
    name, builder, listed, kind = CASES[case]
    return minis[name], builder(minis[name], cache_dir=cache, **kw), listed(minis[name]), kind


@pytest.mark.parametrize("case", list(CASES))
def test_rows_class_names_and_label_ids(case, minis, cache):
    mini, (ds, report), listed, kind = build(case, minis, cache, return_report=True)
    keys = {k for k, _ in listed}
    missing = sorted(k for k, _ in listed if k in set(mini.missing))
    assert isinstance(ds, datasets.Dataset)
    assert report.num_listed == len(listed) and sorted(report.missing) == missing
    assert len(ds) == report.num_rows == len(listed) - len(missing)
    names = ds.features["label"].names
    assert names == mini.class_names  # natural, in the official id order
    assert all(name == natural_class_name(name) for name in names)
    expected = dict(listed)
    for row in ds:
        video = video_path(row["video"])
        assert os.path.isabs(video) and os.path.isfile(video)
        key = row_key(mini, video, kind)
        assert key in keys
        assert names[row["label"]] == natural_class_name(expected[key])
    # the corrupt file of this miniature is a row when its subset lists it (decoding it is the collator's job)
    built = {Path(p) for p in paths(ds)}
    corrupt_listed = [p for p in mini.corrupt if row_key(mini, p, kind) in keys]
    assert all(p in built for p in corrupt_listed)


def test_every_corrupt_and_missing_file_is_listed_somewhere(minis, cache):
    """The miniatures' promise: one listed-but-missing video and one listed corrupt file each."""
    for name, mini in minis.items():
        cases = [c for c, spec in CASES.items() if spec[0] == name]
        reports = [build(c, minis, cache, return_report=True)[1][1] for c in cases]
        videos = {Path(p) for c in cases for p in paths(build(c, minis, cache)[1])}
        assert len(mini.missing) == 1 and len(mini.corrupt) == 1, name
        assert any(mini.missing[0] in r.missing for r in reports), name
        assert mini.corrupt[0] in videos and mini.corrupt[0].stat().st_size > 0, name


def test_label_ids_follow_the_official_files(minis, cache):
    ssv2 = build_ssv2(minis["ssv2"].root, "train", cache_dir=cache)
    ids = {name: int(i) for name, i in json.loads(minis["ssv2"].annotation_files["labels"].read_text()).items()}
    assert ssv2.features["label"].names == sorted(ids, key=ids.get)  # labels.json order, not alphabetical
    assert ssv2.features["label"].names != sorted(ids)
    for row in ssv2:
        assert row["label"] == ids[row["template"].replace("[", "").replace("]", "")]
        assert "[" not in ssv2.features["label"].names[row["label"]]
        assert len(row["placeholders"]) == row["template"].count("[something]")
    assert "Approaching something with your camera" in ssv2.features["label"].names  # a class without videos

    ucf = build_ucf101(minis["ucf101"].root, 1, "train", cache_dir=cache)
    class_ind = dict(line.split() for line in minis["ucf101"].annotation_files["classes"].read_text().splitlines())
    trainlist = dict(line.split() for line in minis["ucf101"].annotation_files["split1/train"].read_text().splitlines())
    for row in ucf:
        listed_id = next(int(i) for p, i in trainlist.items() if p.endswith("/" + os.path.basename(video_path(row["video"]))))
        assert row["label"] == listed_id - 1
        assert ucf.features["label"].names[row["label"]] == natural_class_name(class_ind[str(listed_id)])
        assert row["group"] == int(row["video_id"].split("_g")[1][:2])
    # the class folder HandstandPushups holds v_HandStandPushups_...: matched by the folder, ignoring case
    assert "handstand pushups" in {ucf.features["label"].names[label] for label in ucf["label"]}

    k400 = build_kinetics(minis["kinetics400"].root, "val", cache_dir=cache)
    assert "passing American football (in game)" in k400.features["label"].names
    assert k400.features == build_kinetics(minis["kinetics400"].root, "train", cache_dir=cache).features
    assert sorted({Path(p).suffix for p in paths(k400)}) == [".mkv", ".mp4", ".webm"]
    test = build_kinetics(minis["kinetics400"].root, "test", cache_dir=cache)
    assert all(Path(p).stem == youtube_id for p, youtube_id in zip(paths(test), test["youtube_id"]))
    assert set(test["split"]) == {"test"} and all(e - s == 10 for s, e in zip(test["time_start"], test["time_end"]))


@pytest.mark.parametrize("case", ["kinetics400-val", "ucf101-1-test", "hmdb51-2-train", "ssv2-train", "list-val"])
def test_streamed_rows_equal_map_style(case, minis, cache):
    _, ds, _, _ = build(case, minis, cache)
    _, streamed, _, _ = build(case, minis, cache, streaming=True)
    assert isinstance(streamed, datasets.IterableDataset)
    assert streamed.features == ds.features
    assert streamed.num_shards == len(ds)  # at most one shard per row
    assert list(streamed) == list(ds)
    _, few, _, _ = build(case, minis, cache, streaming=True, num_shards=2)
    assert few.num_shards == 2 and list(few) == list(ds)


@pytest.mark.parametrize("num_shards", [4, 3])  # even: whole shards per node; odd: every other example
def test_sharding_across_two_nodes_covers_every_row_once(num_shards, minis, cache):
    ds = build_ucf101(minis["ucf101"].root, 1, "train", cache_dir=cache)
    streamed = build_ucf101(minis["ucf101"].root, 1, "train", cache_dir=cache, streaming=True, num_shards=num_shards)
    parts = [list(split_dataset_by_node(streamed, rank=rank, world_size=2)) for rank in range(2)]
    assert all(parts)
    assert Counter(video_path(row["video"]) for part in parts for row in part) == Counter(paths(ds))


def test_dataloader_workers_read_every_row_once(minis, cache):
    import torch

    ds = build_kinetics(minis["kinetics400"].root, "train", cache_dir=cache)
    streamed = build_kinetics(minis["kinetics400"].root, "train", cache_dir=cache, streaming=True)
    loader = torch.utils.data.DataLoader(streamed, batch_size=None, num_workers=2)
    assert Counter(video_path(row["video"]) for row in loader) == Counter(paths(ds))


def test_missing_videos_warned_once_with_the_count(minis, cache, caplog):
    mini = minis["ssv2"]
    with caplog.at_level(logging.WARNING, logger="hfvideoclip.data.datasets"):
        ds, report = build_ssv2(mini.root, "validation", cache_dir=cache, return_report=True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 of 6 listed videos" in warnings[0] and mini.missing[0] in warnings[0]
    assert report.num_missing == 1 and report.missing == mini.missing and len(ds) == 5
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hfvideoclip.data.datasets"):
        build_ssv2(mini.root, "train", cache_dir=cache)  # nothing missing: no warning
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_index_is_cached_and_refreshed_when_the_tree_changes(minis, tmp_path, monkeypatch):
    data_dir = tmp_path / "ucf"
    shutil.copytree(minis["ucf101"].root, data_dir)
    cache = tmp_path / "cache"
    scans = []
    real_scan = common._scan_tree
    monkeypatch.setattr(common, "_scan_tree", lambda root: scans.append(root) or real_scan(root))
    first = build_ucf101(data_dir, 1, "test", cache_dir=cache)
    assert len(scans) == 1 and len(list(cache.glob("index-*.json"))) == 1
    build_ucf101(data_dir, 2, "train", cache_dir=cache)  # in-process memo
    common._MEMO.clear()
    assert build_ucf101(data_dir, 1, "test", cache_dir=cache)["video"] == first["video"]  # from the JSON file
    assert find_videos(data_dir, cache_dir=cache)
    assert len(scans) == 1, "a second build must not walk the tree again"

    # a video added deep inside the tree changes its folder's mtime: the index is rebuilt and finds it
    missing = minis["ucf101"].missing[0]
    folder = next(data_dir.rglob("v_HandStandPushups_g01_c01.avi")).parent
    shutil.copy(folder / "v_HandStandPushups_g01_c01.avi", folder / os.path.basename(missing))
    os.utime(folder, ns=(folder.stat().st_atime_ns, folder.stat().st_mtime_ns + 10**9))  # coarse-mtime filesystems
    ds, report = build_ucf101(data_dir, 1, "test", cache_dir=cache, return_report=True)
    assert len(scans) == 2 and report.num_missing == 0 and len(ds) == len(first) + 1
    find_videos(data_dir, cache_dir=cache, refresh=True)
    assert len(scans) == 3


def test_find_videos_any_depth(minis, cache):
    index = find_videos(minis["kinetics600"].root, cache_dir=cache)
    written = [p for p in minis["kinetics600"].videos]
    assert sorted(index) == sorted(p.name for p in written)
    assert all(Path(index[p.name]) == p for p in written)


# --------------------------------------------------------------------------------------------------- errors
def copy_annotations(mini, tmp_path, *roles):
    """Copies of the miniature's annotation files in tmp_path (pass it as annotation_dir)."""
    for role in roles:
        shutil.copy(mini.annotation_files[role], tmp_path / mini.annotation_files[role].name)
    return tmp_path


def replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_kinetics_malformed(minis, cache, tmp_path):
    mini = minis["kinetics400"]
    ann = copy_annotations(mini, tmp_path, "train", "val", "test")
    replace_line(ann / "val.csv", 3, "abseiling,abcdefghijk,start,20,val")
    with pytest.raises(ValueError, match=r"val\.csv, line 3: time_start='start'"):
        build_kinetics(mini.root, "val", annotation_dir=ann, cache_dir=cache)
    replace_line(ann / "val.csv", 3, "abseiling,abcdefghijk,10")
    with pytest.raises(ValueError, match=r"val\.csv, line 3: 3 fields .* header has 5"):
        build_kinetics(mini.root, "val", annotation_dir=ann, cache_dir=cache)
    replace_line(ann / "val.csv", 1, "name,id,start,end")
    with pytest.raises(ValueError, match=r"val\.csv, line 1: the header .* lacks \['youtube_id'"):
        build_kinetics(mini.root, "val", annotation_dir=ann, cache_dir=cache)
    with pytest.raises(ValueError, match=r"kinetics-600_test\.csv: no 'label' column"):
        build_kinetics(minis["kinetics600"].root, "test", version=600, cache_dir=cache)
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(ValueError, match=r"none of .*kinetics-600_train\.csv.*train\.csv"):
        build_kinetics(mini.root, "train", version=600, annotation_dir=tmp_path / "nowhere", cache_dir=cache)
    with pytest.raises(ValueError, match="version=500"):
        build_kinetics(mini.root, version=500)
    with pytest.raises(ValueError, match=r"unknown subset 'dev'"):
        build_kinetics(mini.root, "dev", cache_dir=cache)


def test_ucf101_malformed(minis, cache, tmp_path):
    mini = minis["ucf101"]
    ann = copy_annotations(mini, tmp_path, "classes", "split1/train", "split1/test")
    replace_line(ann / "trainlist01.txt", 2, "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 99")
    with pytest.raises(ValueError, match=r"trainlist01\.txt, line 2: class id 99 is outside classInd\.txt's 1\.\.3"):
        build_ucf101(mini.root, 1, "train", annotation_dir=ann, cache_dir=cache)
    replace_line(ann / "trainlist01.txt", 2, "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c01.avi 2")
    with pytest.raises(ValueError, match=r"trainlist01\.txt, line 2: class id 2 \(HandstandPushups\) disagrees"):
        build_ucf101(mini.root, 1, "train", annotation_dir=ann, cache_dir=cache)
    replace_line(ann / "testlist01.txt", 4, "Juggling/v_Juggling_g01_c01.avi")
    with pytest.raises(ValueError, match=r"testlist01\.txt, line 4: the class 'Juggling'"):
        build_ucf101(mini.root, 1, "test", annotation_dir=ann, cache_dir=cache)
    with pytest.raises(ValueError, match=r"none of \['testlist02\.txt'\]"):
        build_ucf101(mini.root, 2, "test", annotation_dir=ann, cache_dir=cache)
    with pytest.raises(ValueError, match="split=4"):
        build_ucf101(mini.root, 4, cache_dir=cache)
    replace_line(ann / "classInd.txt", 2, "3 YoYo")
    with pytest.raises(ValueError, match=r"classInd\.txt, line 2: '3 YoYo'; expected `2 <ClassName>`"):
        build_ucf101(mini.root, 1, "test", annotation_dir=ann, cache_dir=cache)


def test_hmdb51_malformed(minis, cache, tmp_path):
    mini = minis["hmdb51"]
    ann = copy_annotations(mini, tmp_path, "brush_hair/split1", "flic_flac/split1", "sword_exercise/split1")
    replace_line(ann / "flic_flac_test_split1.txt", 4, "Glory_flic_flac_u_nm_np1_ba_goo_5.avi 7")
    with pytest.raises(ValueError, match=r"flic_flac_test_split1\.txt, line 4: .* flag 1 \(train\), 2 \(test\)"):
        build_hmdb51(mini.root, 1, "test", annotation_dir=ann, cache_dir=cache)
    with pytest.raises(ValueError, match=r"no <class>_test_split2\.txt files"):
        build_hmdb51(mini.root, 2, "test", annotation_dir=ann, cache_dir=cache)


def test_ssv2_malformed(minis, cache, tmp_path):
    mini = minis["ssv2"]
    ann = copy_annotations(mini, tmp_path, "labels", "validation")
    entries = json.loads((ann / "validation.json").read_text())
    entries[1].pop("template")
    (ann / "validation.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"validation\.json, entry 1: .* lacks an 'id' or a 'template'"):
        build_ssv2(mini.root, "validation", annotation_dir=ann, cache_dir=cache)
    entries[1]["template"] = "Dropping [something] onto [something]"
    (ann / "validation.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"validation\.json, entry 1 \(id \d+\): template .* is not a class of"):
        build_ssv2(mini.root, "validation", annotation_dir=ann, cache_dir=cache)
    (ann / "validation.json").write_text('[\n{"id": "1",\n "template": }\n]')
    with pytest.raises(ValueError, match=r"validation\.json, line 3: not valid JSON"):
        build_ssv2(mini.root, "validation", annotation_dir=ann, cache_dir=cache)


def test_list_malformed(minis, cache, tmp_path):
    mini = minis["list"]
    listing = tmp_path / "list.txt"
    good = mini.annotation_files["train"].read_text().splitlines()
    listing.write_text("\n".join([good[0], good[2], "videos/abseiling/abseiling_00.mp4"]) + "\n")
    with pytest.raises(ValueError, match=r"list\.txt, line 3: .* has no label"):
        build_from_list(listing, mini.annotation_files["classes"], data_dir=mini.root, cache_dir=cache)
    listing.write_text("\n".join([good[0], "videos/abseiling/abseiling_00.mp4 3"]) + "\n")
    with pytest.raises(ValueError, match=r"list\.txt, line 2: class id 3 is outside .*ids 0\.\.2"):
        build_from_list(listing, mini.annotation_files["classes"], data_dir=mini.root, cache_dir=cache)
    with pytest.raises(ValueError, match=r"list\.txt, line 1: label 0 is a class id but no class_names_file"):
        build_from_list(listing, data_dir=mini.root, cache_dir=cache)
    listing.write_text("videos/abseiling/abseiling_00.mp4,juggling balls\n")
    with pytest.raises(ValueError, match=r"list\.txt, line 1: class 'juggling balls' is not in"):
        build_from_list(listing, mini.annotation_files["classes"], data_dir=mini.root, cache_dir=cache)
    listing.write_text("abseiling/frames_00 300 0\n")
    with pytest.raises(ValueError, match=r"list\.txt, line 1: .* extracted frame folders"):
        build_from_list(listing, mini.annotation_files["classes"], data_dir=mini.root, cache_dir=cache)


def test_no_video_found_names_the_data_dir(minis, cache, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"none of the 12 videos listed in .*trainlist01\.txt is under .*empty"):
        build_ucf101(tmp_path / "empty", 1, "train", annotation_dir=minis["ucf101"].root, cache_dir=cache)
    with pytest.raises(ValueError, match="is not a directory"):
        build_ucf101(tmp_path / "absent", cache_dir=cache)


def test_list_without_class_file_and_moved_videos(minis, cache, tmp_path):
    """Names as labels give the sorted classes; paths written for another layout are found by file name."""
    mini = minis["list"]
    listing = tmp_path / "moved.txt"
    listing.write_text("elsewhere/abseiling_00.mp4 abseiling\nold/brush_hair/brush_hair_02.mp4 brush_hair\n")
    ds = build_from_list(listing, data_dir=mini.root, cache_dir=cache)
    assert ds.features["label"].names == ["abseiling", "brush hair"] and len(ds) == 2
    assert all(os.path.isfile(p) for p in paths(ds))


def test_read_class_names_formats(tmp_path):
    expected = ["abseiling", "apply eye makeup"]
    files = {
        "ids.json": json.dumps({"1": "ApplyEyeMakeup", "0": "abseiling"}),
        "names.json": json.dumps({"abseiling": "0", "apply eye makeup": "1"}),
        "list.json": json.dumps(["abseiling", "apply_eye_makeup"]),
        "labels.csv": "id,name\n0,abseiling\n1,apply eye makeup\n",
        "plain.txt": "abseiling\nApplyEyeMakeup\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        assert read_class_names(tmp_path / name) == (expected, 0), name
    (tmp_path / "classInd.txt").write_text("1 abseiling\r\n2 ApplyEyeMakeup\r\n")
    assert read_class_names(tmp_path / "classInd.txt") == (expected, 1)
    (tmp_path / "gap.json").write_text(json.dumps({"0": "a", "2": "b"}))
    with pytest.raises(ValueError, match=r"gap\.json, key '2': class id 2 breaks the sequence"):
        read_class_names(tmp_path / "gap.json")
    (tmp_path / "twice.txt").write_text("abseiling\nAbseiling\n".lower())
    with pytest.raises(ValueError, match="are both 'abseiling'"):
        read_class_names(tmp_path / "twice.txt")


def test_miniature_videos_are_real_in_the_datasets_formats(minis):
    import av

    from hfvideoclip.errors import VideoDecodingError
    from hfvideoclip.models.video_clip.video_decoding import decode_video

    codecs = {"kinetics400": {"h264", "vp9", "vp8", "mpeg4"}, "ucf101": {"mpeg4"}, "hmdb51": {"mjpeg", "mpeg4"},
              "ssv2": {"vp9", "vp8"}}
    for name, mini in minis.items():
        for path in mini.videos:
            if path in mini.corrupt:
                with pytest.raises(VideoDecodingError):
                    decode_video(str(path), 4)
                continue
            assert tuple(decode_video(str(path), 8).shape) == (1, 8, 16, 16, 3), path
            if name in codecs:
                with av.open(str(path)) as container:
                    assert container.streams.video[0].codec_context.name in codecs[name], path
    assert {p.suffix for p in minis["kinetics400"].videos} == {".mp4", ".mkv", ".webm"}
    assert {p.suffix for p in minis["ssv2"].videos} == {".webm"}
    with pytest.raises(ValueError, match="Unknown miniature"):
        make_miniature("ucf102", "unused")
