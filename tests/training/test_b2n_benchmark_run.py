"""A base-to-novel run on a real benchmark's layout, through the recipe: `hfvideoclip train --protocol b2n-hmdb51
--data_dir D`, with D a miniature of HMDB-51 holding all 51 classes (2 test videos each in the official split-file
format) and, for each base class, the first training video the shipped ViFi-CLIP list names (the rest of the
16 shots missing and counted). The run trains on what is there and evaluates base, novel and HM."""

import csv
import json
from pathlib import Path

import pytest

import hfvideoclip
from hfvideoclip.cli import main as cli_main
from hfvideoclip.data.datasets.miniatures import write_video

SPLITS = Path(hfvideoclip.__file__).parent / "data" / "splits" / "vifi_clip"


@pytest.fixture(scope="module")
def hmdb_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hmdb51")
    names = [row["name"] for row in csv.DictReader(open(SPLITS / "labels" / "hmdb_51_labels.csv"))]
    lists = root / "testTrainMulti_7030_splits"
    lists.mkdir()
    for name in names:
        raw = name.replace(" ", "_")
        videos = [f"Clip_{raw}_u_nm_np1_fr_goo_{i}.avi" for i in range(2)]
        for split in (1, 2, 3):
            (lists / f"{raw}_test_split{split}.txt").write_text("".join(f"{v} 2 \n" for v in videos))
        for video in videos:
            write_video(root / "hmdb51_org" / raw / video, ".mjpeg.avi")
    for seed in (1, 2, 3):  # the protocol builds the 3 base sets' training lists
        listed = SPLITS / "datasets_splits" / "base2novel_splits" / "hmdb_splits" / f"fs_base_s{seed}_train.txt"
        first = {}
        for line in listed.read_text().splitlines():
            video, label = line.rsplit(maxsplit=1)
            first.setdefault(label, video)
        for video in first.values():
            if not (root / "hmdb51_org" / "train" / video).exists():
                write_video(root / "hmdb51_org" / "train" / video, ".mjpeg.avi")
    return root


@pytest.mark.slow
def test_b2n_hmdb51_trains_and_reports_base_novel_and_hm(hmdb_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", "--method", "ce", "--protocol", "b2n-hmdb51", "--data_dir", str(hmdb_dir),
                     "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "4",
                     "--num_frames", "4", "--templates", "single", "--eval_templates", "single",
                     "--eval_num_clips", "1", "--save_strategy", "no", "--disable_tqdm", "true",
                     "--cache_dir", str(tmp_path / "cache"), "--model", "toy-clip"])
    assert code == 0, capsys.readouterr().err[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["protocol"] == "b2n-hmdb51"
    assert {"base_top1", "novel_top1", "hm"} <= set(results["metrics"])
    assert str(hmdb_dir) in (out / "train_args.json").read_text()  # --data_dir recorded with the run
