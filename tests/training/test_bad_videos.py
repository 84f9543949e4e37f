"""What happens to a video that cannot be decoded: `--bad_video raise` stops with its path, `skip` leaves it out,
keeps training batches full and counts it in the results; `hfvideoclip data check` finds such files first;
`hfvideoclip predict` classifies the good files and lists the bad ones."""

import json
import os
import shutil

import pytest
import torch

import hfvideoclip  # noqa: F401
from hfvideoclip import VideoClipVideoProcessor
from hfvideoclip.cli import main as cli_main
from hfvideoclip.data.collator import VideoClipCollator
from hfvideoclip.errors import VideoDecodingError


@pytest.fixture
def bad_files(tmp_path, dataset):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is a text file named like a video\n" * 20)
    truncated = folder / "truncated.mp4"
    truncated.write_bytes(open(dataset["video"][0], "rb").read()[:300])
    return {"empty": str(folder / "empty.mp4"), "text": str(folder / "notes.mp4"), "truncated": str(truncated)}


def test_collator_raise_names_the_file_and_skip_keeps_the_training_batch_full(dataset, bad_files):
    processor = VideoClipVideoProcessor(num_frames=4, size=16)
    rows = [{"video": dataset["video"][0], "label": 0}, {"video": bad_files["text"], "label": 1},
            {"video": dataset["video"][1], "label": 1}]
    with pytest.raises(VideoDecodingError, match="notes.mp4"):
        VideoClipCollator(processor, train=True)(rows)
    batch = VideoClipCollator(processor, train=True, bad_video="skip")(rows)
    assert batch["pixel_values_videos"].shape[0] == 3 and batch["labels"].tolist() == [0, 1, 0]
    assert len(batch["skipped_videos"]) == 1 and "notes.mp4" in batch["skipped_videos"][0]
    evaluation = VideoClipCollator(processor, bad_video="skip", return_paths=True)(rows)
    assert evaluation["pixel_values_videos"].shape[0] == 2 and evaluation["labels"].tolist() == [0, 1]
    assert evaluation["video_paths"] == [dataset["video"][0], dataset["video"][1]]
    only_bad = VideoClipCollator(processor, bad_video="skip")([rows[1]])
    assert only_bad["pixel_values_videos"] is None and only_bad["labels"].numel() == 0
    with pytest.raises(VideoDecodingError, match="Every video of a training batch"):
        VideoClipCollator(processor, train=True, bad_video="skip")([rows[1]])


def _csv(path, dataset, extra):
    names = dataset.features["label"].names
    lines = ["video,label"] + [f"{v},{names[label]}" for v, label in zip(dataset["video"], dataset["label"])]
    lines += [f"{video},{names[0]}" for video in extra]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_training_run_skips_and_counts_or_stops_naming_the_file(clip_dir, dataset, bad_files, tmp_path, capsys):
    data = _csv(tmp_path / "videos.csv", dataset, [bad_files["text"], bad_files["empty"]])
    common = ["train", "--method", "ce", "--model", clip_dir, "--train_file", data, "--validation_file", data,
              "--max_steps", "2", "--num_frames", "4", "--templates", "single", "--per_device_train_batch_size", "10",
              "--per_device_eval_batch_size", "4", "--disable_tqdm", "true", "--use_cpu", "true",
              "--save_strategy", "no"]
    assert cli_main([*common, "--output_dir", str(tmp_path / "raise")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ("notes.mp4" in errors[0] or "empty.mp4" in errors[0])
    assert cli_main([*common, "--output_dir", str(tmp_path / "skip"), "--bad_video", "skip"]) == 0
    results = json.loads((tmp_path / "skip" / "results.json").read_text())
    assert results["skipped_videos"] == 2 and len(results["skipped"]) == 2
    assert results["skipped_training_videos"] == 2  # two files, however many batches held them
    assert 0.0 <= results["metrics"]["top1"] <= 1.0
    assert "skipped (undecodable)" in capsys.readouterr().out


def test_evaluation_skip_scores_the_rest_and_keeps_columns_aligned(clip_dir, dataset, bad_files, tmp_path):
    data = _csv(tmp_path / "videos.csv", dataset, [bad_files["truncated"]])
    args = ["--model", clip_dir, "--validation_file", data, "--templates", "single", "--no_plot", "--no_progress",
            "--num_frames", "4"]
    from hfvideoclip.evaluation.cli import main as evaluate_main

    assert evaluate_main([*args, "--output_dir", str(tmp_path / "a"), "--bad_video", "skip"]) == 0
    skipped = json.loads((tmp_path / "a" / "results.json").read_text())
    clean = _csv(tmp_path / "clean.csv", dataset, [])
    assert evaluate_main([*args[:2], "--validation_file", clean, *args[4:], "--output_dir", str(tmp_path / "b")]) == 0
    reference = json.loads((tmp_path / "b" / "results.json").read_text())
    assert skipped["skipped_videos"] == 1 and "truncated.mp4" in skipped["skipped"][0]
    assert skipped["metrics"]["top1"] == pytest.approx(reference["metrics"]["top1"])  # the 8 good videos alike
    assert evaluate_main([*args, "--output_dir", str(tmp_path / "c")]) == 2  # raise: one line, exit code 2


def test_data_check_reports_missing_undecodable_and_short_videos(dataset, bad_files, tmp_path, capsys):
    folder = tmp_path / "videofolder"
    (folder / "circle").mkdir(parents=True)
    shutil.copy(dataset["video"][0], folder / "circle" / "good.mp4")
    for name in ("empty", "text"):
        shutil.copy(bad_files[name], folder / "circle" / f"{name}.mp4")
    assert cli_main(["data", "check", str(folder), "--num_frames", "4"]) == 1
    out = capsys.readouterr().out
    assert "3 videos in 1 classes" in out and "undecodable: 2" in out and "missing: 0" in out
    assert "empty.mp4" in out and "text.mp4" in out
    listing = tmp_path / "list.txt"
    listing.write_text("videofolder/circle/good.mp4 circle\nvideofolder/circle/gone.mp4 circle\n")
    assert cli_main(["data", "check", "--list", str(listing), "--num_frames", "100"]) == 1
    out = capsys.readouterr().out
    assert "missing: 1" in out and "gone.mp4" in out
    assert "shorter than 100 frames" in out and "good.mp4: 8 frames" in out
    assert cli_main(["data", "check", str(tmp_path / "nowhere")]) == 2
    assert "no such folder or list file" in capsys.readouterr().err


def test_data_check_in_workers_gives_the_in_process_report(dataset, bad_files, tmp_path):
    """Two workers, chunks of 8 videos: the same counts, and the problems in the order of the list."""
    from hfvideoclip.data.check import check_videos

    gone = str(tmp_path / "gone.mp4")
    pairs = [(dataset["video"][0], "a"), (gone, "a"), (bad_files["empty"], "b"), (dataset["video"][1], "b"),
             (bad_files["text"], "c")] * 3
    serial = check_videos(pairs, num_frames=100, num_workers=0)
    calls = []
    parallel = check_videos(pairs, num_frames=100, num_workers=2, progress=lambda done, total: calls.append(done))
    assert parallel == serial
    assert calls == [8, 15]
    assert serial.checked == 15 and serial.class_counts == {"a": 6, "b": 6, "c": 3}
    assert serial.missing == [gone] * 3
    assert [path for path, _ in serial.undecodable] == [bad_files["empty"], bad_files["text"]] * 3
    assert serial.too_short == [(dataset["video"][0], 8), (dataset["video"][1], 8)] * 3


def test_predict_classifies_the_good_files_and_lists_the_bad(clip_dir, dataset, bad_files, tmp_path, capsys):
    from hfvideoclip import VideoClipModel, VideoClipProcessor

    model_dir = tmp_path / "model"
    VideoClipModel.from_clip(clip_dir, num_frames=4).save_pretrained(model_dir)
    VideoClipProcessor.from_pretrained(clip_dir).save_pretrained(model_dir)
    good = dataset["video"][0]
    code = cli_main(["predict", good, bad_files["text"], dataset["video"][1], "--model", str(model_dir), "--labels",
                     "red circle,blue square", "--batch_size", "4", "--output", "json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report["results"]) == {good, dataset["video"][1]} and list(report["failed"]) == [bad_files["text"]]
    assert torch.tensor([item["score"] for item in report["results"][good]]).sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("num_workers", ["0", "2"])
def test_predict_with_workers_and_bfloat16_names_the_bad_file_and_scores_the_rest(
        clip_dir, dataset, bad_files, tmp_path, capsys, num_workers):
    """The bad file sits inside a chunk decoded by workers: the chunk is redone one by one, the good files keep
    their results (the same with 0 and 2 workers), and --dtype bfloat16 scores with bfloat16 weights."""
    from hfvideoclip import VideoClipModel, VideoClipProcessor

    model_dir = tmp_path / "model"
    VideoClipModel.from_clip(clip_dir, num_frames=4).save_pretrained(model_dir)
    VideoClipProcessor.from_pretrained(clip_dir).save_pretrained(model_dir)
    videos = [dataset["video"][0], bad_files["text"], dataset["video"][1], dataset["video"][2]]
    reports = {}
    for dtype in ("float32", "bfloat16"):
        code = cli_main(["predict", *videos, "--model", str(model_dir), "--labels", "red circle,blue square",
                         "--batch_size", "2", "--num_workers", num_workers, "--dtype", dtype, "--output", "json"])
        assert code == 1
        reports[dtype] = json.loads(capsys.readouterr().out)
        assert list(reports[dtype]["failed"]) == [bad_files["text"]]
        assert set(reports[dtype]["results"]) == set(videos) - {bad_files["text"]}
    for video, ranked in reports["float32"]["results"].items():
        in_bf16 = {item["label"]: item["score"] for item in reports["bfloat16"]["results"][video]}
        for item in ranked:  # bfloat16 has an 8-bit mantissa: close, not equal
            assert in_bf16[item["label"]] == pytest.approx(item["score"], abs=0.05)


def test_a_decoding_error_raised_in_a_dataloader_worker_keeps_its_one_line_message(bad_files):
    from torch.utils.data import DataLoader

    from hfvideoclip.errors import VideoDecodingError
    from hfvideoclip.models.video_clip.video_decoding import decode_video

    loader = DataLoader([bad_files["text"]], num_workers=1, collate_fn=lambda paths: decode_video(paths[0], 4))
    with pytest.raises(VideoDecodingError) as caught:
        next(iter(loader))
    first_line = str(caught.value).splitlines()[0]
    assert os.path.basename(bad_files["text"]) in first_line and "Caught" not in first_line
    assert "DataLoader worker process 0" in caught.value.worker_traceback


def test_raise_names_every_bad_video_of_the_batch_and_the_fixes(dataset, bad_files):
    processor = VideoClipVideoProcessor(num_frames=4, size=16)
    rows = [{"video": bad_files["text"], "label": 1}, {"video": dataset["video"][0], "label": 0},
            {"video": bad_files["empty"], "label": 0}]
    for train in (True, False):
        with pytest.raises(VideoDecodingError) as caught:
            VideoClipCollator(processor, train=train)(rows)
        first_line = str(caught.value).splitlines()[0]
        assert "notes.mp4" in first_line and "empty.mp4" in first_line and "2 of 3 videos" in first_line
        assert "--bad_video skip" in first_line and "hfvideoclip data check" in first_line
    with pytest.raises(VideoDecodingError) as caught:
        VideoClipCollator(processor, train=True)(rows[:2])
    assert "notes.mp4" in str(caught.value) and "--bad_video skip" in str(caught.value)


@pytest.mark.parametrize("workers", ["0", "2", "2-persistent"])
def test_skip_counts_and_logs_each_bad_file_once_over_epochs_and_workers(
        clip_dir, dataset, bad_files, tmp_path, caplog, workers):
    """2 bad files, 4 epochs of 2 batches: `skipped_training_videos` is 2 and each file is logged once, whether
    batches are collated here, in workers re-created every epoch, or in persistent workers. A CPU-only run does not
    pin memory (no pin_memory warning)."""
    import logging
    import warnings

    from hfvideoclip.training.recipe import parse_args, run

    data = _csv(tmp_path / "videos.csv", dataset, [bad_files["text"], bad_files["empty"]])
    argv = ["--method", "ce", "--model", clip_dir, "--train_file", data, "--max_steps", "8",
            "--num_frames", "4", "--templates", "single", "--per_device_train_batch_size", "5",
            "--disable_tqdm", "true", "--save_strategy", "no", "--report_to", "none", "--skip_final_eval", "true",
            "--bad_video", "skip", "--dataloader_num_workers", workers.split("-")[0],
            "--dataloader_persistent_workers", str(workers.endswith("persistent")).lower(),
            "--output_dir", str(tmp_path / "run")]
    caplog.set_level(logging.WARNING, logger="hfvideoclip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run(parse_args(argv))
    assert results["skipped_training_videos"] == 2
    logged = [record.getMessage() for record in caplog.records if "Skipping a video" in record.getMessage()]
    assert sum("notes.mp4" in line for line in logged) == 1 and sum("empty.mp4" in line for line in logged) == 1
    assert len(logged) == 2
    assert not [w for w in caught if "pin_memory" in str(w.message)]
