"""The user's own videos: videofolders, CSV / JSON lines files and `datasets` datasets, and their error messages."""

import csv
import json
import os

import datasets
import pytest

from hfvideoclip.data import load_video_classification_data, natural_class_name, resolve_data
from hfvideoclip.data.video_column import video_path
from hfvideoclip.toy import ClipSpec, render_clip, write_mp4

CLASSES = {"RedCircle": ("circle", "red"), "orange_star": ("star", "orange"), "blue-bar": ("bar", "blue")}
NATURAL = sorted(["red circle", "orange star", "blue bar"])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """root/folder/<Class>/<i>.mp4: 3 classes x 2 tiny clips (8 frames, 32 px)."""
    root = tmp_path_factory.mktemp("own")
    for c, (folder, (shape, colour)) in enumerate(CLASSES.items()):
        (root / "folder" / folder).mkdir(parents=True)
        for i in range(2):
            frames = render_clip(ClipSpec(shape, colour, "still", "plain", 0), seed=10 * c + i, num_frames=8, size=32)
            write_mp4(frames, root / "folder" / folder / f"{i}.mp4")
    (root / "folder" / "RedCircle" / "notes.txt").write_text("not a video")
    return root


def rows(root):
    return [(str(p.relative_to(root)), p.parent.name) for p in sorted((root / "folder").glob("*/*.mp4"))]


def test_natural_class_name():
    for raw in ("apply_eye_makeup", "ApplyEyeMakeup", "apply-eye-makeup", " apply  eye makeup "):
        assert natural_class_name(raw) == "apply eye makeup"
    assert natural_class_name("TVShow") == "tv show"
    assert natural_class_name("passing American football (in game)") == "passing American football (in game)"


def test_videofolder(videos, tmp_path):
    # training folder with one more class, spelled differently: one class list, the natural union
    train = tmp_path / "train"
    (train / "red_circle").mkdir(parents=True)
    (train / "GreenCross").mkdir()
    for folder in ("red_circle", "GreenCross"):
        os.link(videos / "folder" / "RedCircle" / "0.mp4", train / folder / "clip.MP4")
    data = load_video_classification_data(train_dir=train, validation_dir=videos / "folder")
    assert data.name == "folder" and len(data.splits) == 1
    split = data.splits[0]
    test = split.eval["test"]
    assert split.train.features["label"].names == test.features["label"].names == sorted(NATURAL + ["green cross"])
    assert test.column_names == ["video", "label"] and len(test) == 6  # notes.txt is skipped
    names = test.features["label"].names
    for row in test:
        video = video_path(row["video"])
        assert os.path.isabs(video) and os.path.isfile(video)
        assert names[row["label"]] == natural_class_name(os.path.basename(os.path.dirname(video)))
    assert sorted(names[label] for label in split.train["label"]) == ["green cross", "red circle"]

    only_eval = load_video_classification_data(validation_dir=videos / "folder", name="mine")
    assert only_eval.name == "mine" and only_eval.splits[0].train is None
    only_train = load_video_classification_data(train_dir=train)
    assert only_train.splits[0].eval == {}


def test_csv_and_json_lines(videos):
    csv_path = videos / "val.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip", "action", "note"])
        writer.writerows((video, label, f"n{i}") for i, (video, label) in enumerate(rows(videos)))
    data = load_video_classification_data(validation_file=csv_path, video_column_name="clip",
                                          label_column_name="action")
    test = data.splits[0].eval["test"]
    assert data.name == "val" and test.column_names == ["video", "label", "note"]
    assert test.features["label"].names == NATURAL
    assert video_path(test["video"][0]) == str(videos / rows(videos)[0][0])  # relative to the file's folder
    assert [test.features["label"].names[i] for i in test["label"]] == [natural_class_name(r[1]) for r in rows(videos)]
    assert test["note"][:2] == ["n0", "n1"]

    # JSON lines with integer labels: names from class_names_file (its order, not sorted)
    order = ["blue bar", "red circle", "orange star"]
    (videos / "classes.json").write_text(json.dumps({str(i): name for i, name in enumerate(order)}))
    lines = [json.dumps({"video": video, "label": order.index(natural_class_name(label))})
             for video, label in rows(videos)]
    (videos / "val.jsonl").write_text("\n".join(lines))
    data = load_video_classification_data(validation_file=videos / "val.jsonl",
                                          class_names_file=videos / "classes.json")
    test = data.splits[0].eval["test"]
    assert test.features["label"].names == order
    assert [order[i] for i in test["label"]] == [natural_class_name(r[1]) for r in rows(videos)]


def test_datasets_dataset_with_video_column(videos, tmp_path):
    paths = [str(videos / video) for video, _ in rows(videos)]
    raw_names = sorted(CLASSES)
    features = datasets.Features({"clip": datasets.Video(), "y": datasets.ClassLabel(names=raw_names),
                                  "extra": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"clip": paths, "y": [raw_names.index(label) for _, label in rows(videos)],
                                     "extra": list(range(len(paths)))}, features=features)
    datasets.DatasetDict(train=ds.select([0, 2, 4]), validation=ds).save_to_disk(tmp_path / "saved")
    data = load_video_classification_data(dataset_name=str(tmp_path / "saved"), video_column_name="clip",
                                          label_column_name="y", cache_dir=tmp_path / "cache")
    split = data.splits[0]
    test = split.eval["test"]
    assert len(split.train) == 3 and len(test) == 6
    assert test.column_names == ["video", "label", "extra"] and test["extra"] == list(range(6))
    assert test.features["label"].names == [natural_class_name(n) for n in raw_names]
    for row, path in zip(test, paths):
        # datasets >= 4.1's save_to_disk embeds the bytes: they are written once to the cache, identical to the
        # source file; earlier versions keep the path
        embedded = datasets.Dataset.load_from_disk(str(tmp_path / "saved" / "validation")).with_format(None)
        stored = embedded.cast_column("clip", datasets.Video(decode=False))[0]["clip"]
        where = str(tmp_path / "cache") if stored.get("bytes") else path
        assert video_path(row["video"]).startswith(where) and os.path.isfile(video_path(row["video"]))
        with open(video_path(row["video"]), "rb") as a, open(path, "rb") as b:
            assert a.read() == b.read()
    assert list(split.eval["test"]["label"]) == list(ds["y"])


def test_resolve_data_prefers_own_data(videos):
    data = resolve_data("toy-b2n", validation_dir=videos / "folder")
    assert data.name == "folder"
    with pytest.raises(ValueError, match="Unknown protocol 'nope'"):
        resolve_data("nope")
    with pytest.raises(ValueError, match="No data"):
        resolve_data(None)


def test_errors_name_the_file_the_field_and_the_fix(videos, tmp_path):
    good = rows(videos)
    bad = tmp_path / "bad.csv"
    bad.write_text("video,label\n" + "\n".join(f"{v},{label}" for v, label in good))
    with pytest.raises(ValueError) as error:
        load_video_classification_data(validation_file=bad, label_column_name="action")
    assert str(bad) in str(error.value) and "'action'" in str(error.value)
    assert "['video', 'label']" in str(error.value) and "--label_column_name" in str(error.value)

    with pytest.raises(ValueError) as error:  # videos relative to the wrong folder, plus one right one
        load_video_classification_data(validation_file=bad)
    message = str(error.value)
    assert f"{len(good)} of {len(good)} videos" in message and "'video'" in message
    assert str(tmp_path / good[0][0]) in message and str(tmp_path / good[4][0]) not in message  # the first few

    (tmp_path / "classes.txt").write_text("red circle\nblue bar\n")
    with pytest.raises(ValueError) as error:
        load_video_classification_data(validation_file=videos / "val.csv", video_column_name="clip",
                                       label_column_name="action", class_names_file=tmp_path / "classes.txt")
    message = str(error.value)
    assert "val.csv" in message and "'orange_star'" in message and "not in the class list" in message
    assert "class_names_file" in message

    empty = tmp_path / "empty"
    (empty / "some_class").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"empty.*empty videofolder.*<class name>/<video>"):
        load_video_classification_data(validation_dir=empty)
    with pytest.raises(ValueError, match="Conflicting data sources: --validation_dir and --validation_file"):
        load_video_classification_data(validation_dir=videos / "folder", validation_file=bad)
    with pytest.raises(ValueError, match="integer class indices"):
        (tmp_path / "ints.jsonl").write_text(json.dumps({"video": str(videos / good[0][0]), "label": 0}))
        load_video_classification_data(validation_file=tmp_path / "ints.jsonl")
