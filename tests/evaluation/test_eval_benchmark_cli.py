"""One evaluate command over several benchmark protocols with --data_dir (miniatures of UCF-101 and HMDB-51 in one
folder), writing one results.json per protocol; the train recipe passes --data_dir to the protocol too."""

import json

import pytest

from hfvideoclip.data.datasets import make_miniature
from hfvideoclip.evaluation.cli import main as evaluate_main


@pytest.fixture(scope="module")
def benchmarks_root(tmp_path_factory):
    """UCF-101 and HMDB-51 miniatures, and a Kinetics-600 val set with one video of each of the 220 classes new to
    Kinetics-400 (the published xd-k600 splits draw 3 x 160 of them), in one folder."""
    import csv

    from hfvideoclip.data.benchmarks import k600_split_classes
    from hfvideoclip.data.datasets.miniatures import write_video

    root = tmp_path_factory.mktemp("benchmarks")
    make_miniature("ucf101", root / "UCF101")
    make_miniature("hmdb51", root / "hmdb51")
    new_classes = sorted({name for split in k600_split_classes() for name in split})
    (root / "k600").mkdir()
    with open(root / "k600" / "kinetics-600_val.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
        for i, name in enumerate(new_classes):
            youtube_id = f"k600video{i:03d}"
            writer.writerow([name, youtube_id, 0, 10, "validate"])
            write_video(root / "k600" / "val" / f"{youtube_id}_000000_000010.mp4")
    return root


@pytest.mark.slow
def test_cross_dataset_evaluation_over_three_protocols_in_one_command(benchmarks_root, tmp_path, capsys):
    code = evaluate_main(["--protocol", "xd-ucf101,xd-hmdb51,xd-k600", "--data_dir", str(benchmarks_root),
                          "--output_dir", str(tmp_path), "--no_plot", "--no_progress", "--templates", "single",
                          "--bad_video", "skip", "--cache_dir", str(tmp_path / "cache")])
    assert code == 0, capsys.readouterr().err
    for name in ("xd-ucf101", "xd-hmdb51", "xd-k600"):
        results = json.loads((tmp_path / name / "results.json").read_text())
        assert results["protocol"] == name and len(results["per_split"]) == 3
        assert 0.0 <= results["metrics"]["top1"] <= 1.0 and "top1_std" in results["metrics"]
        if name != "xd-k600":
            assert results.get("skipped_videos", 0) >= 1  # each miniature holds a corrupt video
    out = capsys.readouterr().out
    assert out.count("wrote ") == 3 and "xd-k600" in out


def test_train_recipe_passes_data_dir_to_the_protocol(benchmarks_root, tmp_path, capsys):
    from hfvideoclip.cli import main as cli_main

    code = cli_main(["train", "--method", "ce", "--protocol", "xd-ucf101", "--data_dir", str(benchmarks_root),
                     "--output_dir", str(tmp_path / "run"), "--max_steps", "1", "--model", "toy-clip"])
    assert code == 2
    assert "no training set" in capsys.readouterr().err  # the protocol was built from --data_dir, zero-shot only


def test_the_papers_test_views_are_the_default_on_real_benchmarks():
    from hfvideoclip.evaluation.cli import build_parser, default_num_clips

    assert build_parser().parse_args([]).num_clips is None
    assert default_num_clips("xd-ucf101") == 3 and default_num_clips("b2n-k400") == 3
    assert default_num_clips("toy-b2n") == 1 and default_num_clips("my-videos", own_data=True) == 1
