"""Folder scans say which files they leave out; `data check` refuses a wrong header and an empty folder, and a
short video alone is a warning; a header-only data file is named as having no rows."""

import logging

import pytest

from hfvideoclip.cli import _expand_videos
from hfvideoclip.cli import main as cli_main
from hfvideoclip.data import load_video_classification_data
from hfvideoclip.toy import ClipSpec, render_clip, write_mp4


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """root/<class>/: two 8-frame mp4 clips, a video under an unlisted extension (.avif), a text file and a hidden
    file."""
    root = tmp_path_factory.mktemp("scan") / "videos"
    for index, (name, colour) in enumerate((("circle", "red"), ("bar", "blue"))):
        (root / name).mkdir(parents=True)
        write_mp4(render_clip(ClipSpec(name, colour, "still", "plain", 0), seed=index, num_frames=8, size=32),
                  root / name / "clip.mp4")
    (root / "circle" / "extra.avif").write_bytes((root / "circle" / "clip.mp4").read_bytes())
    (root / "bar" / "notes.txt").write_text("not a video")
    (root / "bar" / ".DS_Store").write_bytes(b"\0")
    return root


def test_predict_folder_scan_counts_the_skipped_files(folder, capsys):
    assert _expand_videos([str(folder)]) == [str(folder / "bar" / "clip.mp4"), str(folder / "circle" / "clip.mp4")]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 files skipped (extensions: " in err[0]
    assert ".avif (1)" in err[0] and ".txt (1)" in err[0] and "pass such files by name" in err[0]


def test_videofolder_scan_logs_the_skipped_files(folder, caplog):
    with caplog.at_level(logging.WARNING, logger="hfvideoclip"):
        data = load_video_classification_data(train_dir=folder)
    assert len(data.splits[0].train) == 2
    lines = [record.getMessage() for record in caplog.records if "skipped (extensions" in record.getMessage()]
    assert len(lines) == 1 and ".avif (1)" in lines[0] and "--train_file" in lines[0]


def test_data_check_folder_notes_skipped_files_and_short_videos_are_a_warning(folder, capsys):
    assert cli_main(["data", "check", str(folder), "--num_frames", "16", "--num_workers", "0"]) == 0
    captured = capsys.readouterr()
    assert "2 files skipped (extensions: " in captured.err and ".avif (1)" in captured.err
    assert "2 videos in 2 classes" in captured.out and "warning: shorter than 16 frames" in captured.out
    assert cli_main(["data", "check", str(folder), "--num_frames", "8", "--num_workers", "0"]) == 0


def test_data_check_refuses_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("nothing here")
    assert cli_main(["data", "check", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no videos to check" in err and "1 file skipped (extensions: .md (1))" in err


def test_data_check_csv_header(folder, tmp_path, capsys):
    wrong = tmp_path / "wrong.csv"
    wrong.write_text(f"clip,class\n{folder / 'circle' / 'clip.mp4'},circle\n")
    assert cli_main(["data", "check", "--list", str(wrong), "--num_workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "'clip,class'" in err[0] and "video,label" in err[0]
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(f"label,video\ncircle,{folder / 'circle' / 'clip.mp4'}\nbar,{folder / 'bar' / 'clip.mp4'}\n")
    assert cli_main(["data", "check", "--list", str(swapped), "--num_workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 videos in 2 classes" in out and "missing: 0" in out


def test_header_only_or_empty_data_file_says_it_has_no_rows(tmp_path):
    header_only = tmp_path / "train.csv"
    header_only.write_text("video,label\n")
    with pytest.raises(ValueError, match="train.csv: the file has a header .* but no rows"):
        load_video_classification_data(train_file=header_only)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: the file is empty"):
        load_video_classification_data(train_file=empty)
