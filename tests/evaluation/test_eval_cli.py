import csv
import json
import os

import datasets
import pytest

from hfvideoclip.data import ProtocolData, ProtocolSplit, register_protocol, unregister_protocol
from hfvideoclip.evaluation.cli import available_protocols, main, run_evaluation
from hfvideoclip.toy import ClipSpec, render_clip, seen_pairs, write_mp4


def test_unknown_protocol_names_the_available_ones(capsys):
    assert main(["--protocol", "kinetics-400", "--output_dir", "unused"]) == 2
    message = capsys.readouterr().err
    assert "kinetics-400" in message
    for name in ("toy-still", "toy-b2n", "toy-xd", "toy-ooc"):
        assert name in available_protocols() and name in message
    with pytest.raises(ValueError, match="Unknown template set"):
        run_evaluation(protocol="toy-still", templates="fancy")


def _toy_or_skip():
    toy = pytest.importorskip("hfvideoclip.toy", reason="the toy world (hfvideoclip.toy) is not written yet")
    if not (hasattr(toy, "load_protocol") and hasattr(toy, "toy_clip_path")):
        pytest.skip("hfvideoclip.toy has no load_protocol / toy_clip_path yet")
    if not os.path.isfile(os.path.join(toy.toy_clip_path(), "config.json")):
        pytest.skip(f"the shipped tiny CLIP is not at {toy.toy_clip_path()} yet (recipes/pretrain_toy_clip.py)")
    return toy


@pytest.mark.slow
def test_recipe_on_toy_still_with_shipped_clip(tmp_path, capsys, toy_cache):
    _toy_or_skip()
    output_dir = tmp_path / "out"
    code = main(["--protocol", "toy-still", "--output_dir", str(output_dir), "--cache_dir", str(toy_cache),
                 "--templates", "single", "--no_progress"])
    assert code == 0
    results = json.loads((output_dir / "results.json").read_text())
    assert results["protocol"] == "toy-still"
    assert set(results) == {"protocol", "model", "metrics", "per_split"}
    metrics = results["metrics"]
    if "hm" in metrics:
        assert {"base_top1", "novel_top1", "hm_std"} <= set(metrics)
    else:
        assert {"top1", "top1_std"} <= set(metrics)
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert (output_dir / "results.md").is_file()
    assert list(output_dir.glob("plot_*.png"))
    printed = capsys.readouterr().out
    assert "| split1 |" in printed and "± 0.0" not in printed  # one split: no mean ± std row
    assert "- `top1`: top-1 accuracy" in (output_dir / "results.md").read_text() or "- `base_top1`" in printed


# ------------------------------------------------------------------ custom protocols and own data, toy CLIP
SHAPES = ("circle", "star", "bar")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """root/<ColourShape>/<i>.mp4: 3 still seen colour-shape pairs x 2 tiny clips (8 frames, 32 px)."""
    root = tmp_path_factory.mktemp("clips")
    table = []
    for c, shape in enumerate(SHAPES):
        colour = next(col for col, s in seen_pairs() if s == shape)
        folder = root / "videos" / f"{colour.capitalize()}{shape.capitalize()}"
        folder.mkdir(parents=True)
        for i in range(2):
            path = folder / f"{i}.mp4"
            write_mp4(render_clip(ClipSpec(shape, colour, "still", "plain", 0), seed=10 * c + i, num_frames=8,
                                  size=32), path)
            table.append({"video": str(path.relative_to(root)), "label": f"a {colour} {shape}", "shape": shape,
                          "kind": "still" if i == 0 else "other"})
    return root, table


def _run(tmp_path, *flags):
    out = tmp_path / "out"
    assert main([*flags, "--output_dir", str(out), "--templates", "single", "--no_progress", "--no_plot"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"protocol", "model", "metrics", "per_split"}
    assert [entry["split"] for entry in results["per_split"]] == ["split1"]
    assert 0.0 <= results["metrics"]["top1"] <= 1.0 and results["metrics"]["top1_std"] == 0.0
    return results


def test_registered_custom_protocol_through_the_cli(clips, tmp_path):
    root, table = clips
    names = sorted({row["label"] for row in table})
    features = datasets.Features({"video": datasets.Value("string"), "label": datasets.ClassLabel(names=names),
                                  "shape": datasets.Value("string"), "kind": datasets.Value("string")})
    columns = {"video": [str(root / row["video"]) for row in table],
               "label": [names.index(row["label"]) for row in table],
               "shape": [row["shape"] for row in table], "kind": [row["kind"] for row in table]}
    test = datasets.Dataset.from_dict(columns, features=features)

    @register_protocol("test-cli-custom")
    def load(cache_dir=None, **params):
        return ProtocolData("test-cli-custom", [ProtocolSplit("split1", None, {"test": test})],
                            metric_columns=("shape",), group_column="kind")

    try:
        results = _run(tmp_path, "--protocol", "test-cli-custom")
    finally:
        unregister_protocol("test-cli-custom")
    assert results["protocol"] == "test-cli-custom"
    # the protocol's own metrics: per-group top-1 and the right-attribute accuracy
    assert {"top1_still", "top1_other", "shape_top1"} <= set(results["metrics"])
    assert results["metrics"]["top1"] > 1 / 3  # the toy CLIP knows colour-shape pairs (chance: 1/3)


@pytest.mark.parametrize("source", ["videofolder", "csv", "datasets"])
def test_own_data_through_the_cli(clips, tmp_path, source):
    root, table = clips
    if source == "videofolder":
        flags = ["--validation_dir", str(root / "videos")]
        expected_name = "videos"
    elif source == "csv":
        path = tmp_path / "val.csv"
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["clip", "label"])
            writer.writeheader()
            writer.writerows({"clip": os.path.relpath(root / row["video"], tmp_path), "label": row["label"]}
                             for row in table)
        flags = ["--validation_file", str(path), "--video_column_name", "clip"]
        expected_name = "val"
    else:
        names = sorted({row["label"] for row in table})
        ds = datasets.Dataset.from_dict(
            {"video": [str(root / row["video"]) for row in table],
             "label": [names.index(row["label"]) for row in table]},
            features=datasets.Features({"video": datasets.Video(), "label": datasets.ClassLabel(names=names)}))
        datasets.DatasetDict(test=ds).save_to_disk(tmp_path / "saved")
        flags = ["--dataset_name", str(tmp_path / "saved"), "--cache_dir", str(tmp_path / "cache")]
        expected_name = "saved"
    results = _run(tmp_path, "--protocol", "toy-b2n", *flags)  # own data wins over --protocol
    assert results["protocol"] == expected_name
    assert set(results["metrics"]) == {"top1", "top5", "top1_std", "top5_std"}


def test_own_data_without_validation_is_refused(clips, tmp_path, capsys):
    root, table = clips
    ds = datasets.Dataset.from_dict({"video": [str(root / table[0]["video"])], "label": ["a red circle"]})
    datasets.DatasetDict(train=ds).save_to_disk(tmp_path / "train_only")
    assert main(["--dataset_name", str(tmp_path / "train_only"), "--output_dir", str(tmp_path / "out")]) == 2
    assert "no validation split" in capsys.readouterr().err
