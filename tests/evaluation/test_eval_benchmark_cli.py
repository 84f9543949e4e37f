"""One evaluate command over several benchmark protocols with --data_dir (miniatures of UCF-101 and HMDB-51 in one
folder), writing one results.json per protocol; the train recipe passes --data_dir to the protocol too."""

import json

import pytest

from hfvideoclip.data.datasets import make_miniature
from hfvideoclip.evaluation.cli import main as evaluate_main


@pytest.fixture(scope="module")
def benchmarks_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmarks")
    make_miniature("ucf101", root / "UCF101")
    make_miniature("hmdb51", root / "hmdb51")
    return root


def test_cross_dataset_evaluation_over_two_protocols_in_one_command(benchmarks_root, tmp_path, capsys):
    code = evaluate_main(["--protocol", "xd-ucf101,xd-hmdb51", "--data_dir", str(benchmarks_root),
                          "--output_dir", str(tmp_path), "--no_plot", "--no_progress", "--templates", "single",
                          "--bad_video", "skip", "--cache_dir", str(tmp_path / "cache")])
    assert code == 0, capsys.readouterr().err
    for name in ("xd-ucf101", "xd-hmdb51"):
        results = json.loads((tmp_path / name / "results.json").read_text())
        assert results["protocol"] == name and len(results["per_split"]) == 3
        assert 0.0 <= results["metrics"]["top1"] <= 1.0 and "top1_std" in results["metrics"]
        assert results.get("skipped_videos", 0) >= 1  # each miniature holds a corrupt video


def test_train_recipe_passes_data_dir_to_the_protocol(benchmarks_root, tmp_path, capsys):
    from hfvideoclip.cli import main as cli_main

    code = cli_main(["train", "--method", "ce", "--protocol", "xd-ucf101", "--data_dir", str(benchmarks_root),
                     "--output_dir", str(tmp_path / "run"), "--max_steps", "1"])
    assert code == 2
    assert "no training set" in capsys.readouterr().err  # the protocol was built from --data_dir, zero-shot only


def test_the_papers_test_views_are_the_default_on_real_benchmarks():
    from hfvideoclip.evaluation.cli import build_parser, default_num_clips

    assert build_parser().parse_args([]).num_clips is None
    assert default_num_clips("xd-ucf101") == 3 and default_num_clips("b2n-k400") == 3
    assert default_num_clips("toy-b2n") == 1 and default_num_clips("my-videos", own_data=True) == 1
