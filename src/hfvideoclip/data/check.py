"""`hfvideoclip data check DIR_OR_LIST`: find missing, undecodable and too-short videos before training on them.

A folder is scanned for video files at any depth (the parent folder names the class, as in a videofolder); a list
file holds `path label`, `path,label` or a CSV with `video` and `label` columns (paths relative to the list's
folder). Every video is opened and its frames counted (demuxing, no decoding of pictures); one that cannot be
opened is decoded once to get FFmpeg's cause. DataLoader workers check videos in parallel (default: the machine's
cores, at most 8). The report gives per-class counts and each problem with its cause, in plain lines, and the exit
code says whether the data is clean.
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VideoDecodingError
from .own_data import VIDEO_EXTENSIONS, scan_video_files, skipped_files_line
from .video_column import video_path


@dataclass
class DataReport:
    """Result of `check_videos`: per-class counts and the problems found."""

    class_counts: Counter = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)
    undecodable: list[tuple[str, str]] = field(default_factory=list)
    too_short: list[tuple[str, int]] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        """No missing or undecodable video; a short video is a warning (its frames are repeated)."""
        return not (self.missing or self.undecodable)

    def lines(self, num_frames: int) -> list[str]:
        out = [f"{self.checked} videos in {len(self.class_counts)} classes"]
        for label, count in sorted(self.class_counts.items()):
            out.append(f"  {count:>6}  {label}")
        out.append(f"missing: {len(self.missing)}")
        out.extend(f"  {path}" for path in self.missing)
        out.append(f"undecodable: {len(self.undecodable)}")
        out.extend(f"  {path}: {cause}" for path, cause in self.undecodable)
        out.append(f"{'warning: ' if self.too_short else ''}shorter than {num_frames} frames (frames are "
                   f"repeated): {len(self.too_short)}")
        out.extend(f"  {path}: {frames} frames" for path, frames in self.too_short)
        return out


def list_videos(source: str | os.PathLike, notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(path, label) pairs from a folder (label = the parent folder's name, '' at the top) or a list file.

    A folder's files left out for their extension are counted in one line appended to `notes`. A list file whose
    first line is a header other than one naming a `video` column raises ValueError."""
    source = Path(source)
    if source.is_dir():
        videos, others = scan_video_files(source)
        if others and notes is not None:
            notes.append(skipped_files_line(others, source, "to check such files, list them in a list file "
                                            "(--list, `path label` per line)."))
        return [(str(path), path.parent.name if path.parent != source else "") for path in videos]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such folder or list file; pass a folder of videos or a list file "
                                "(`path label` per line, or a CSV with video and label columns).")
    text = source.read_text().splitlines()
    rows = [line for line in text if line.strip() and not line.lstrip().startswith("#")]
    header = [name.strip().lower() for name in next(csv.reader(rows[:1]), [])]
    if "video" in header and _looks_like_header(rows[0], source):  # a CSV: video and (optional) label columns
        at, label_at = header.index("video"), header.index("label") if "label" in header else None
        pairs = [(row[at].strip(), row[label_at].strip() if label_at is not None and label_at < len(row) else "")
                 for row in csv.reader(rows[1:]) if len(row) > at]
    elif rows and _looks_like_header(rows[0], source):
        raise ValueError(f"{source}, line 1: {rows[0].strip()!r} looks like a header without a `video` column; "
                         "name the columns video,label (a CSV) or drop the line (`path label` lines).")
    else:
        pairs = []
        for number, line in enumerate(rows, 1):
            parts = line.rsplit(",", 1) if "," in line else line.rsplit(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{source}, line {number}: expected `path label` or `path,label`, got {line!r}.")
            pairs.append((parts[0].strip(), parts[1].strip()))
    return [(path if os.path.isabs(path) else str(source.parent / path), label) for path, label in pairs]


def _looks_like_header(line: str, source: Path) -> bool:
    """Whether the first line of a list file is a header rather than a video: its path field is no existing
    file and has no video extension."""
    first = (line.rsplit(",", 1) if "," in line else line.rsplit(None, 1))[0].strip()
    path = first if os.path.isabs(first) else str(source.parent / first)
    return Path(first).suffix.lower() not in VIDEO_EXTENSIONS and not os.path.exists(path)


def check_video(path: str) -> tuple[str, int | str | None]:
    """One video's state: ("missing", None), ("undecodable", cause on one line) or ("ok", frame count)."""
    from ..models.video_clip.video_decoding import count_frames, decode_video

    if not os.path.exists(path):
        return "missing", None
    try:
        frames = count_frames(path)
        decode_video(path, 1)  # the first frames decode (a header-only or corrupt file fails here)
    except VideoDecodingError as error:
        return "undecodable", str(error).splitlines()[0]
    except Exception as error:  # FFmpeg errors surface as several exception types; name them, no traceback
        return "undecodable", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return "ok", frames


def _check_chunk(paths: list[str]) -> list[tuple[str, int | str | None]]:
    """`check_video` of each path: the DataLoader's collate function, so the checks run in its workers."""
    return [check_video(path) for path in paths]


def check_videos(pairs: list[tuple[str, str]], num_frames: int = 8, num_workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> DataReport:
    """Open every video of `pairs`; count frames; collect what is missing, undecodable or shorter than
    `num_frames`.

    `num_workers` DataLoader workers check videos in parallel (None or -1: the machine's cores, at most 8; 0: in
    this process); the report lists problems in the order of `pairs` either way. `progress(done, total)` is
    called after each chunk of videos.
    """
    import torch.utils.data

    from .workers import resolve_num_workers

    pairs = [(video_path(video) or video, label) for video, label in pairs]  # datasets.Video values: their path
    paths = [path for path, _ in pairs]
    workers = resolve_num_workers(num_workers, len(paths))
    chunk = 8  # videos per worker task: one IPC round trip per chunk, not per video
    loader = torch.utils.data.DataLoader(paths, batch_size=chunk, num_workers=workers, collate_fn=_check_chunk)
    report = DataReport()
    done = 0
    for states in loader:
        for (path, label), (state, info) in zip(pairs[done:done + len(states)], states):
            report.checked += 1
            report.class_counts[label] += 1
            if state == "missing":
                report.missing.append(path)
            elif state == "undecodable":
                report.undecodable.append((path, info))
            elif info < num_frames:
                report.too_short.append((path, info))
        done += len(states)
        if progress is not None:
            progress(done, len(paths))
    return report


def main(argv: list[str] | None = None) -> int:
    """`hfvideoclip data check DIR_OR_LIST [--list FILE] [--num_frames 8]`; exit 0 when no video is missing or
    undecodable (short videos are a warning), 1 otherwise, 2 when there is nothing to check."""
    import argparse

    parser = argparse.ArgumentParser(prog="hfvideoclip data check", description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", help="a folder of videos or a list file")
    parser.add_argument("--list", dest="list_file", help="a list file (`path label` or CSV with video,label)")
    parser.add_argument("--num_frames", type=int, default=8, help="frames a clip needs (default 8)")
    parser.add_argument("--num_workers", type=int, default=-1,
                        help="processes checking videos in parallel (default -1: the machine's cores, at most 8)")
    args = parser.parse_args(argv)
    source = args.list_file or args.source
    if source is None:
        parser.error("give a folder or --list FILE")
    notes: list[str] = []
    try:
        pairs = list_videos(source, notes)
        for note in notes:
            print(note, file=sys.stderr)
        if not pairs:
            raise ValueError(f"{source}: no videos to check ({'/'.join(VIDEO_EXTENSIONS)} files in a folder, or "
                             "rows of a list file).")
        report = check_videos(pairs, args.num_frames, args.num_workers,
                              progress=_progress_printer(len(pairs)) if len(pairs) >= 1000 else None)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.lines(args.num_frames)))
    return 0 if report.ok else 1


def _progress_printer(total: int) -> Callable[[int, int], None]:
    """Prints `checked N/total` to stderr at every further 10 % (long scans show they are alive)."""
    next_report = [total // 10]

    def report(done: int, total: int) -> None:
        if done >= next_report[0] and done < total:
            print(f"checked {done}/{total}", file=sys.stderr, flush=True)
            next_report[0] = done + total // 10

    return report


__all__ = ["DataReport", "check_video", "check_videos", "list_videos", "main"]
