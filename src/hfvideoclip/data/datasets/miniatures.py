"""Tiny copies of each benchmark dataset's folder and annotation layout, for tests and examples.

```python
from hfvideoclip.data.datasets import build_ucf101, make_miniature
mini = make_miniature("ucf101", tmp_path)          # writes tmp_path/UCF-101/..., tmp_path/ucfTrainTestlist/...
test = build_ucf101(mini.root, split=1, subset="test")
```
Each miniature has the official annotation files in their official formats and places, a few classes with 2-4
videos per class and subset, written with PyAV as 16x16 clips of 8 frames in the formats the dataset really uses:

- ``kinetics400``: the CVDF layout (``k400/annotations/{train,val,test}.csv``, ``k400/<subset>/<id>_<start>_<end>``)
  with mp4 (H.264), mkv (H.264) and webm (VP9) mixed in val, and test videos named ``<youtube id>.mp4``;
- ``kinetics600``: DeepMind's file names (``kinetics600/kinetics-600_{train,val,test}.csv``), videos in class
  folders, and a test CSV without labels (as in the original release);
- ``ucf101``: ``UCF-101/<Class>/v_<Class>_gNN_cNN.avi`` (MPEG-4 part 2 in AVI, as UCF's Xvid files) and
  ``ucfTrainTestlist/`` (3 splits, test groups kept apart as in the official splits, the ``HandstandPushups`` /
  ``v_HandStandPushups`` spelling quirk included);
- ``hmdb51``: ``hmdb51_org/<class>/<video>.avi`` (Motion JPEG in AVI) and
  ``testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt`` (flags 1 train, 2 test, 0 unused);
- ``ssv2``: ``20bn-something-something-v2/<id>.webm`` (VP9, else VP8) and ``labels/{labels,train,validation,
  test}.json`` (one class of labels.json without videos);
- ``list``: ``videos/<class>/<name>.mp4`` with ``train_list.txt`` (``path id``), ``val_list.csv``
  (``path,name`` with a header) and ``classes.json`` (``{"0": name}``).

Every miniature lists one video that does not exist (`Miniature.missing`) and holds one corrupt file: listed,
present, the dataset's extension, but not a video (`Miniature.corrupt`). Writing one takes well under a second.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

MINIATURE_NAMES = ("kinetics400", "kinetics600", "ucf101", "hmdb51", "ssv2", "list")
SIZE, NUM_FRAMES, FPS = 16, 8, 8


@dataclass
class Miniature:
    """What `make_miniature` wrote.

    Attributes:
        name: the miniature's name (one of `MINIATURE_NAMES`).
        root: the folder to pass as ``data_dir``.
        class_names: the natural class names in label-id order, as the builders should give them.
        annotation_files: the annotation files by role (``"train"``, ``"val"``, ``"split1"``, ``"labels"``, ...).
        missing: the videos listed in the annotations but not written, named as the annotation names them (and as
            `BuildReport.missing` reports them).
        corrupt: paths of the listed files that are not decodable videos.
        videos: every video file written (the corrupt ones included).
    """

    name: str
    root: Path
    class_names: list[str]
    annotation_files: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    corrupt: list[Path] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)


def make_miniature(name: str, root: str | os.PathLike, *, seed: int = 0) -> Miniature:
    """Write the miniature ``name`` (one of `MINIATURE_NAMES`) under ``root`` and describe it."""
    makers = {"kinetics400": _kinetics400, "kinetics600": _kinetics600, "ucf101": _ucf101, "hmdb51": _hmdb51,
              "ssv2": _ssv2, "list": _list}
    if name not in makers:
        raise ValueError(f"Unknown miniature {name!r}; use one of {list(MINIATURE_NAMES)}.")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mini = Miniature(name=name, root=root, class_names=[])
    makers[name](mini, random.Random(f"{name}-{seed}"))
    return mini


# ------------------------------------------------------------------------------------------------- writing
_FORMATS = {  # extension -> (container format, [(codec, pixel format), ...] in order of preference)
    ".avi": ("avi", [("mpeg4", "yuv420p")]),
    ".mjpeg.avi": ("avi", [("mjpeg", "yuvj420p"), ("mpeg4", "yuv420p")]),
    ".mp4": ("mp4", [("libx264", "yuv420p"), ("h264", "yuv420p"), ("mpeg4", "yuv420p")]),
    ".mkv": ("matroska", [("libx264", "yuv420p"), ("h264", "yuv420p"), ("mpeg4", "yuv420p")]),
    ".webm": ("webm", [("libvpx-vp9", "yuv420p"), ("libvpx", "yuv420p")]),
}
_ENCODERS: dict[str, tuple[str, str]] = {}


def _encoder(kind: str) -> tuple[str, str]:
    """The first available (codec, pixel format) of ``kind``."""
    if kind not in _ENCODERS:
        import av

        for codec, pix_fmt in _FORMATS[kind][1]:
            try:
                av.codec.Codec(codec, "w")
            except Exception:  # noqa: BLE001 - PyAV raises several types for an absent encoder
                continue
            _ENCODERS[kind] = (codec, pix_fmt)
            break
        else:
            raise RuntimeError(f"No encoder for {kind} miniatures among {[c for c, _ in _FORMATS[kind][1]]} in this "
                               "FFmpeg build.")
    return _ENCODERS[kind]


def _frames(key: str) -> np.ndarray:
    """8 frames of 16x16: a coloured bar moving over a tinted background, different for every ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    background, colour = np.frombuffer(digest[:3], np.uint8) // 2, 128 + np.frombuffer(digest[3:6], np.uint8) // 2
    frames = np.empty((NUM_FRAMES, SIZE, SIZE, 3), np.uint8)
    frames[:] = background
    for t in range(NUM_FRAMES):
        x = (digest[6] + 2 * t) % (SIZE - 3)
        frames[t, :, x:x + 3] = colour
    return frames


def write_video(path: str | os.PathLike, kind: str | None = None) -> Path:
    """Write a tiny clip to ``path``: its extension picks the container and codec (``kind=".mjpeg.avi"``: Motion
    JPEG in an .avi)."""
    import av

    path = Path(path)
    kind = kind or path.suffix.lower()
    container_format = _FORMATS[kind][0]
    codec, pix_fmt = _encoder(kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=Fraction(FPS))
        stream.width = stream.height = SIZE
        stream.pix_fmt = pix_fmt
        if codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        stream.codec_context.thread_count = 1
        for frame in _frames(path.name):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _write(mini: Miniature, path: Path, kind: str | None = None) -> None:
    mini.videos.append(write_video(path, kind))


def _write_corrupt(mini: Miniature, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01not a video, cut off at the first byte of its header" * 8)
    mini.videos.append(path)
    mini.corrupt.append(path)


def _youtube_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(11))


# --------------------------------------------------------------------------------------------------- kinetics
_K400_CLASSES = ["abseiling", "air drumming", "passing American football (in game)"]
_K600_CLASSES = ["abseiling", "adjusting glasses", "alligator wrestling", "air drumming"]
_K_HEADER = ["label", "youtube_id", "time_start", "time_end", "split"]


def _kinetics_rows(rng, classes, counts):
    """{subset: [(label, youtube_id, start, end), ...]}; the first id starts with '-' as some real ones do."""
    rows = {}
    for subset, count in counts.items():
        rows[subset] = []
        for label in classes:
            for _ in range(count):
                start = rng.randrange(0, 300)
                rows[subset].append((label, _youtube_id(rng), start, start + 10))
    first = rows["train"][0]
    rows["train"][0] = (first[0], "-" + first[1][1:], first[2], first[3])
    return rows


def _write_kinetics_csv(path: Path, rows, subset_word: str, with_labels: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_K_HEADER if with_labels else _K_HEADER[1:])
        for label, youtube_id, start, end in rows:
            writer.writerow(([label] if with_labels else []) + [youtube_id, start, end, subset_word])


def _kinetics400(mini: Miniature, rng: random.Random) -> None:
    base = mini.root / "k400"
    rows = _kinetics_rows(rng, _K400_CLASSES, {"train": 3, "val": 2, "test": 2})
    mini.class_names = sorted(_K400_CLASSES)
    for subset, subset_rows in rows.items():
        mini.annotation_files[subset] = base / "annotations" / f"{subset}.csv"
        _write_kinetics_csv(mini.annotation_files[subset], subset_rows, subset)
        for i, (_, youtube_id, start, end) in enumerate(subset_rows):
            stem = youtube_id if subset == "test" else f"{youtube_id}_{start:06d}_{end:06d}"
            suffix = (".mp4", ".mkv", ".webm")[i % 3] if subset == "val" else ".mp4"
            path = base / subset / f"{stem}{suffix}"
            if subset == "val" and i == 1:
                mini.missing.append(f"{youtube_id}_{start:06d}_{end:06d}")
            elif subset == "train" and i == 2:
                _write_corrupt(mini, path)
            else:
                _write(mini, path)


def _kinetics600(mini: Miniature, rng: random.Random) -> None:
    base = mini.root / "kinetics600"
    rows = _kinetics_rows(rng, _K600_CLASSES, {"train": 2, "val": 2, "test": 2})
    mini.class_names = sorted(_K600_CLASSES)
    for subset, subset_rows in rows.items():
        word = {"val": "validate"}.get(subset, subset)
        mini.annotation_files[subset] = base / f"kinetics-600_{subset}.csv"
        _write_kinetics_csv(mini.annotation_files[subset], subset_rows, word, with_labels=subset != "test")
        for i, (label, youtube_id, start, end) in enumerate(subset_rows):
            path = base / "videos" / subset / label.replace(" ", "_") / f"{youtube_id}_{start:06d}_{end:06d}.mp4"
            if subset == "train" and i == 3:
                mini.missing.append(path.stem)
            elif subset == "val" and i == 0:
                _write_corrupt(mini, path)
            else:
                _write(mini, path)


# ---------------------------------------------------------------------------------------------------- ucf101
_UCF_CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
_UCF_GROUPS = (1, 2, 8, 9, 15, 16)  # two groups in each official test range: 1-7, 8-14, 15-21


def _ucf101(mini: Miniature, rng: random.Random) -> None:
    lists = mini.root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    mini.class_names = ["apply eye makeup", "handstand pushups", "yo yo"]
    mini.annotation_files["classes"] = lists / "classInd.txt"
    # the official files end lines with CRLF
    mini.annotation_files["classes"].write_bytes(
        "".join(f"{i} {name}\r\n" for i, name in enumerate(_UCF_CLASSES, start=1)).encode())
    entries = []  # (class id, folder, file name, group)
    for class_id, folder in enumerate(_UCF_CLASSES, start=1):
        spelled = "HandStandPushups" if folder == "HandstandPushups" else folder
        for group in _UCF_GROUPS:
            entries.append((class_id, folder, f"v_{spelled}_g{group:02d}_c01.avi", group))
    for split in (1, 2, 3):
        test_groups = range(7 * split - 6, 7 * split + 1)
        train = "".join(f"{folder}/{name} {class_id}\r\n" for class_id, folder, name, group in entries
                        if group not in test_groups)
        test = "".join(f"{folder}/{name}\r\n" for class_id, folder, name, group in entries if group in test_groups)
        for subset, text in (("train", train), ("test", test)):
            mini.annotation_files[f"split{split}/{subset}"] = lists / f"{subset}list{split:02d}.txt"
            mini.annotation_files[f"split{split}/{subset}"].write_bytes(text.encode())
    for i, (_, folder, name, _) in enumerate(entries):
        path = mini.root / "UCF-101" / folder / name
        if i == 7:
            mini.missing.append(f"{folder}/{name}")
        elif i == 12:
            _write_corrupt(mini, path)
        else:
            _write(mini, path)


# ---------------------------------------------------------------------------------------------------- hmdb51
_HMDB_CLASSES = ["brush_hair", "flic_flac", "sword_exercise"]
_HMDB_SOURCES = ["April_09", "#20_Rhythm", "Veoh_Alpha_Dog_1", "Blade_Of_Fury_-_Scene_1", "Faith_Rewarded", "Glory"]


def _hmdb51(mini: Miniature, rng: random.Random) -> None:
    lists = mini.root / "testTrainMulti_7030_splits"
    lists.mkdir(parents=True, exist_ok=True)
    mini.class_names = ["brush hair", "flic flac", "sword exercise"]
    for c, raw in enumerate(_HMDB_CLASSES):
        names = [f"{source}_{raw}_u_nm_np1_ba_goo_{i}.avi" for i, source in enumerate(_HMDB_SOURCES)]
        for split in (1, 2, 3):
            flags = [("1", "1", "1", "2", "2", "0")[(i + split + c) % 6] for i in range(len(names))]
            path = lists / f"{raw}_test_split{split}.txt"
            path.write_text("".join(f"{name} {flag} \n" for name, flag in zip(names, flags)))  # trailing space: official
            mini.annotation_files[f"{raw}/split{split}"] = path
        for i, name in enumerate(names):
            path = mini.root / "hmdb51_org" / raw / name
            if c == 1 and i == 2:
                mini.missing.append(name)
            elif c == 2 and i == 0:
                _write_corrupt(mini, path)
            else:
                _write(mini, path, ".mjpeg.avi")


# ------------------------------------------------------------------------------------------------------ ssv2
_SSV2_TEMPLATES = ["Holding [something] next to [something]", "Pushing [something] from left to right",
                   "Pushing [something] from right to left", "Approaching [something] with your camera"]
_SSV2_OBJECTS = ["potato", "vicks vaporub bottle", "a pen", "remote", "cup", "phone"]


def _ssv2(mini: Miniature, rng: random.Random) -> None:
    labels = mini.root / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    names = [t.replace("[", "").replace("]", "") for t in _SSV2_TEMPLATES]
    ids = {name: str(i) for i, name in enumerate(sorted(names, key=lambda n: (len(n), n)))}  # not alphabetical
    mini.class_names = sorted(ids, key=lambda name: int(ids[name]))
    mini.annotation_files["labels"] = labels / "labels.json"
    mini.annotation_files["labels"].write_text(json.dumps(ids, indent=4))
    used = _SSV2_TEMPLATES[:3]  # the last class has no videos
    next_id = 1000 + rng.randrange(1000)
    test_entries = []
    for subset, count in (("train", 3), ("validation", 2)):
        entries = []
        for template in used:
            for _ in range(count):
                holes = template.count("[something]")
                placeholders = rng.sample(_SSV2_OBJECTS, holes)
                caption = template.lower()
                for word in placeholders:
                    caption = caption.replace("[something]", word, 1)
                entries.append({"id": str(next_id), "label": caption, "template": template,
                                "placeholders": placeholders})
                next_id += 1 + rng.randrange(50)
        mini.annotation_files[subset] = labels / f"{subset}.json"
        mini.annotation_files[subset].write_text(json.dumps(entries))
        for i, entry in enumerate(entries):
            path = mini.root / "20bn-something-something-v2" / f"{entry['id']}.webm"
            if subset == "validation" and i == 3:
                mini.missing.append(path.name)
            elif subset == "train" and i == 4:
                _write_corrupt(mini, path)
            else:
                _write(mini, path)
    for _ in range(2):
        test_entries.append({"id": str(next_id)})
        _write(mini, mini.root / "20bn-something-something-v2" / f"{next_id}.webm")
        next_id += 7
    mini.annotation_files["test"] = labels / "test.json"
    mini.annotation_files["test"].write_text(json.dumps(test_entries))


# ------------------------------------------------------------------------------------------------------ list
_LIST_CLASSES = ["abseiling", "ApplyEyeMakeup", "brush_hair"]


def _list(mini: Miniature, rng: random.Random) -> None:
    mini.class_names = ["abseiling", "apply eye makeup", "brush hair"]
    mini.annotation_files["classes"] = mini.root / "classes.json"
    mini.annotation_files["classes"].write_text(json.dumps({str(i): n for i, n in enumerate(_LIST_CLASSES)}))
    train, val = [], []
    for c, raw in enumerate(_LIST_CLASSES):
        for i in range(4):
            relative = f"videos/{raw}/{raw.lower()}_{i:02d}.mp4"
            (train if i < 2 else val).append((relative, c))
    mini.annotation_files["train"] = mini.root / "train_list.txt"
    mini.annotation_files["train"].write_text("".join(f"{path} {c}\n" for path, c in train))
    mini.annotation_files["val"] = mini.root / "val_list.csv"
    mini.annotation_files["val"].write_text("path,label\n" + "".join(f"{path},{_LIST_CLASSES[c]}\n"
                                                                     for path, c in val))
    for i, (relative, _) in enumerate(train + val):
        path = mini.root / relative
        if i == 1:
            mini.missing.append(relative)
        elif i == len(train) + 1:
            _write_corrupt(mini, path)
        else:
            _write(mini, path)
