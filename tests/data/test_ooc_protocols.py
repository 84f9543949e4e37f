"""The out-of-context protocols (``ooc-ucf-scuba``, ``ooc-ucf-hat``, ``ooc-k400-scuba``) on a miniature written here:
UCF-101 official files and videos, SCUBA-style rawframe lists (``<folder> <num frames> <label id>``) of synthetic
videos encoded one file per folder, a HAT-style ``<video> <label id>`` list, and the Kinetics-400 miniature."""

import os
from collections import Counter

import pytest

from hfvideoclip.data import available_protocols, load_protocol
from hfvideoclip.data.benchmarks import (
    BENCHMARK_PROTOCOL_NAMES,
    OOC_GROUP_COLUMN,
    OOC_PROTOCOL_NAMES,
    describe_protocols,
    read_ooc_list,
)
from hfvideoclip.data.datasets import build_kinetics, make_miniature
from hfvideoclip.data.datasets.miniatures import write_video
from hfvideoclip.data.video_column import video_path


def paths(dataset):
    """The video paths of a built dataset (its `video` column holds datasets.Video(decode=False) values)."""
    return [video_path(video) for video in dataset["video"]]

UCF_CLASSES = ["ApplyEyeMakeup", "Basketball", "YoYo"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("ooc-index-cache")


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    """UCF-101 (3 classes, 2 test videos each) and SCUBA / HAT lists with their synthetic videos."""
    root = tmp_path_factory.mktemp("ooc-ucf")
    data, ooc = root / "ucf101", root / "ooc"
    lists = data / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(UCF_CLASSES, start=1)))
    test = [f"{c}/v_{c}_g0{g}_c01.avi" for c in UCF_CLASSES for g in (1, 2)]
    (lists / "testlist01.txt").write_text("".join(f"{v}\n" for v in test))
    (lists / "trainlist01.txt").write_text("".join(f"{c}/v_{c}_g09_c01.avi {i}\n"
                                                   for i, c in enumerate(UCF_CLASSES, start=1)))
    for video in test:
        write_video(data / "UCF-101" / video)
    # SCUBA: two background sets, each list named testlist01.txt, 2 synthetic videos per original test video of
    # Basketball / YoYo (SCUBA keeps the 101-class ids, 0-based), one of them absent on disk
    scuba = {}
    for variant in ("places365", "vqgan"):
        lines = []
        for label, c in enumerate(UCF_CLASSES):
            if c == "ApplyEyeMakeup":
                continue
            for g in (1, 2):
                for n in range(2):
                    lines.append(f"v_{c}_g0{g}_c01__{n} {40 + g} {label}")
        folder = ooc / "scuba" / variant
        folder.mkdir(parents=True)
        (folder / "testlist01.txt").write_text("\n".join(lines) + "\n")
        for line in lines:
            name = line.split()[0]
            if variant == "vqgan" and name == "v_YoYo_g02_c01__1":
                continue
            write_video(ooc / "videos" / variant / f"{name}.mp4")
        scuba[variant] = lines
    hat = [f"swap/v_{c}_g01_c01__bg_v_{o}_g02_c01.mp4 {label}" for label, c in enumerate(UCF_CLASSES)
           for o in UCF_CLASSES if o != c]
    (ooc / "hat").mkdir()
    (ooc / "hat" / "actionswap_rand_1.txt").write_text("\n".join(hat) + "\n")
    for line in hat:
        write_video(ooc / "hat" / line.split()[0])
    return {"data": data, "ooc": ooc, "scuba": scuba, "hat": hat}


def test_registered_with_needs():
    assert OOC_PROTOCOL_NAMES == ("ooc-ucf-scuba", "ooc-ucf-hat", "ooc-k400-scuba")
    assert set(OOC_PROTOCOL_NAMES) <= set(available_protocols())
    assert not set(OOC_PROTOCOL_NAMES) & set(BENCHMARK_PROTOCOL_NAMES)
    described = dict(describe_protocols())
    for name in OOC_PROTOCOL_NAMES:
        assert described[name].startswith("data_dir:") and "ooc_lists" in described[name]
    assert "SCUBA" in described["ooc-ucf-scuba"] and "HAT" in described["ooc-ucf-hat"]
    with pytest.raises(ValueError, match=r"'ooc-ucf-scuba' needs data_dir=: .*classInd\.txt"):
        load_protocol("ooc-ucf-scuba")
    with pytest.raises(ValueError, match=r"'ooc-k400-scuba' needs ooc_lists=: SCUBA's Kinetics-400"):
        load_protocol("ooc-k400-scuba", data_dir=".")


def test_read_ooc_list_formats(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("v_YoYo_g01_c01__0 120 100\nbending back/05mZDSLkGQI_000007_000017__0 300 20\n"
                    "swap/a b.mp4 3\nclip.mp4,7\n")
    assert read_ooc_list(path) == [(1, "v_YoYo_g01_c01__0", 100), (2, "bending back/05mZDSLkGQI_000007_000017__0", 20),
                                   (3, "swap/a b.mp4", 3), (4, "clip.mp4", 7)]
    path.write_text("v_YoYo_g01_c01__0 YoYo\n")
    with pytest.raises(ValueError, match=r"line 1.*<frame folder> <num frames> <label id>"):
        read_ooc_list(path)


def test_ucf_scuba(ucf, cache):
    reports = {}
    data = load_protocol("ooc-ucf-scuba", data_dir=ucf["data"], ooc_lists=ucf["ooc"] / "scuba" / "places365",
                         ooc_dir=ucf["ooc"] / "videos", cache_dir=cache, reports=reports)
    data2 = load_protocol("ooc-ucf-scuba", data_dir=ucf["data"], cache_dir=cache, reports=reports,
                          ooc_lists=[ucf["ooc"] / "scuba" / v / "testlist01.txt" for v in ("places365", "vqgan")],
                          ooc_dir=[ucf["ooc"] / "videos" / v for v in ("places365", "vqgan")])
    assert data.group_column == OOC_GROUP_COLUMN == "context"
    assert data.params["hm_groups"] == ["in", "out"]
    assert [s.name for s in data.splits] == ["split1"] and data.splits[0].train is None
    test = data.splits[0].eval["test"]
    assert list(data.splits[0].eval) == ["test"]
    names = test.features["label"].names
    assert names == ["apply eye makeup", "basketball", "yo yo"]
    assert Counter(test["context"]) == {"in": 6, "out": 8}
    assert Counter(test["source"]) == {"original": 6, "testlist01.txt": 8}
    for video, label, context in zip(paths(test), test["label"], test["context"]):
        stem = os.path.basename(video)
        assert stem.startswith("v_" + UCF_CLASSES[label] + "_")
        assert stem.endswith(".avi" if context == "in" else ".mp4")
    # two lists of one file name: told apart by their folders; the absent video is counted
    both = data2.splits[0].eval["test"]
    assert Counter(both["source"]) == {"original": 6, "places365/testlist01.txt": 8, "vqgan/testlist01.txt": 7}
    assert reports["out/vqgan/testlist01.txt"].missing == ["v_YoYo_g02_c01__1"]
    assert reports["out/vqgan/testlist01.txt"].num_listed == 8
    assert reports["out/places365/testlist01.txt"].num_missing == 0
    assert reports["in"].num_rows == 6
    with pytest.raises(ValueError, match="ooc_dir: 1 folders for 2 lists"):
        load_protocol("ooc-ucf-scuba", data_dir=ucf["data"], cache_dir=cache, ooc_dir=[ucf["ooc"]],
                      ooc_lists=[ucf["ooc"] / "scuba" / v / "testlist01.txt" for v in ("places365", "vqgan")])


def test_ucf_hat_and_evaluation(ucf, cache, tmp_path):
    import torch
    from transformers import CLIPModel

    from hfvideoclip import VideoClipModel, VideoClipProcessor
    from hfvideoclip.evaluation import evaluate_protocol
    from hfvideoclip.toy import toy_clip_path

    reports = {}
    data = load_protocol("ooc-ucf-hat", data_dir=ucf["data"], ooc_lists=ucf["ooc"] / "hat", cache_dir=cache,
                         reports=reports)
    test = data.splits[0].eval["test"]
    assert Counter(test["context"]) == {"in": 6, "out": 6}
    out = [(os.path.basename(v), test.features["label"].names[label])
           for v, label, c in zip(paths(test), test["label"], test["context"]) if c == "out"]
    assert ("v_YoYo_g01_c01__bg_v_Basketball_g02_c01.mp4", "yo yo") in out
    assert reports["out/actionswap_rand_1.txt"].num_missing == 0

    torch.manual_seed(0)
    model = VideoClipModel.from_clip(CLIPModel.from_pretrained(toy_clip_path())).eval()
    processor = VideoClipProcessor.from_pretrained(toy_clip_path())
    results = evaluate_protocol(model, processor, data, batch_size=4, num_frames=4, progress=False, plot=False,
                                device="cpu", num_workers=0)
    metrics = results["metrics"]
    for key in ("top1", "top5", "top1_in", "top1_out"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["top1"] == pytest.approx((metrics["top1_in"] + metrics["top1_out"]) / 2)
    assert results["protocol"] == "ooc-ucf-hat"


def test_k400_scuba(tmp_path_factory, cache):
    mini = make_miniature("kinetics400", tmp_path_factory.mktemp("ooc-k400") / "k400")
    val = build_kinetics(mini.root, "val", cache_dir=cache)
    names = val.features["label"].names
    assert names == sorted(names)
    folder = tmp_path_factory.mktemp("k400-scuba")
    lines, expected = [], {}
    for i, (video, label) in enumerate(zip(paths(val), val["label"])):
        stem = os.path.splitext(os.path.basename(video))[0]
        listed = f"{names[label]}/{stem}__0"  # class folders with spaces, as in the released val.txt
        lines.append(f"{listed} 300 {label}")
        if i != 0:
            write_video(folder / "frames_as_videos" / f"{stem}__0.webm")
            expected[f"{stem}__0.webm"] = names[label]
    (folder / "val.txt").write_text("\n".join(lines) + "\n")
    reports = {}
    data = load_protocol("ooc-k400-scuba", data_dir=mini.root, ooc_lists=folder / "val.txt", cache_dir=cache,
                         reports=reports)
    test = data.splits[0].eval["test"]
    assert test.features["label"].names == names
    assert Counter(test["context"]) == {"in": len(val), "out": len(val) - 1}
    got = {os.path.basename(v): names[label] for v, label, c in zip(paths(test), test["label"], test["context"])
           if c == "out"}
    assert got == expected
    assert reports["out/val.txt"].missing == [lines[0].rsplit(" ", 2)[0]]
    bad = folder / "bad.txt"
    bad.write_text(f"x__0 300 {len(names)}\n")
    with pytest.raises(ValueError, match=r"class id \d+ is outside"):
        load_protocol("ooc-k400-scuba", data_dir=mini.root, ooc_lists=bad, cache_dir=cache)


def test_in_and_out_of_context_groups_give_their_harmonic_mean():
    import torch

    from hfvideoclip.evaluation.harness import EvalOutput, split_metrics
    from hfvideoclip.evaluation.metrics import harmonic_mean

    labels = torch.tensor([0, 1, 0, 1])
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])  # in: 2/2 right, out: 1/2 right
    output = EvalOutput(scores=scores, labels=labels, class_names=["a", "b"], video_paths=["v"] * 4,
                        logits=scores.log(), groups=["in", "in", "out", "out"])
    metrics = split_metrics({"test": output})
    assert metrics["top1_in"] == 1.0 and metrics["top1_out"] == 0.5
    assert metrics["hm"] == pytest.approx(harmonic_mean(1.0, 0.5))
