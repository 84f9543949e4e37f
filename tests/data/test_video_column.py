"""The datasets hfvideoclip builds type their `video` column as `datasets.Video(decode=False)`, so pushing one
uploads the videos (their bytes), not this machine's paths; every reader of the column takes those values."""

import os

import datasets
import numpy as np
import pytest
from datasets.table import embed_table_storage

from hfvideoclip import VideoClipVideoProcessor
from hfvideoclip.data import load_video_classification_data
from hfvideoclip.data.check import check_videos
from hfvideoclip.data.collator import VideoClipCollator
from hfvideoclip.data.protocols import ProtocolData, ProtocolSplit
from hfvideoclip.data.video_column import video_path
from hfvideoclip.errors import VideoDecodingError
from hfvideoclip.toy import write_mp4
from hfvideoclip.training.recipe import comparable_splits


@pytest.fixture
def built(tmp_path):
    """A dataset built by `load_video_classification_data` from a folder of two classes, two videos each."""
    rng = np.random.default_rng(0)
    for name in ("red", "blue"):
        (tmp_path / "videos" / name).mkdir(parents=True)
        for index in range(2):
            frames = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
            write_mp4(frames, tmp_path / "videos" / name / f"{index}.mp4", fps=8)
    data = load_video_classification_data(validation_dir=tmp_path / "videos", name="mine")
    return data.splits[0].eval["test"]


def test_the_video_column_is_a_video_feature(built):
    assert built.features["video"] == datasets.Video(decode=False)
    value = built[0]["video"]
    assert value["bytes"] is None and os.path.isfile(value["path"])


def test_embedding_carries_the_video_bytes(built, tmp_path):
    """What `push_to_hub` uploads: the table with each file embedded (154 KB of video, not a path string)."""
    embedded = datasets.Dataset(embed_table_storage(built.data.table))
    sizes = [os.path.getsize(video_path(value)) for value in built["video"]]
    values = list(embedded["video"])
    assert [len(value["bytes"]) for value in values] == sizes
    with open(video_path(built[0]["video"]), "rb") as handle:
        assert values[0]["bytes"] == handle.read()
    embedded.save_to_disk(tmp_path / "saved")
    reloaded = datasets.load_from_disk(str(tmp_path / "saved"))
    assert reloaded.features["video"] == datasets.Video(decode=False)
    assert os.path.getsize(tmp_path / "saved" / reloaded.cache_files[0]["filename"].split("/")[-1]) > sum(sizes)
    # The bytes decode where the files are gone (a pushed dataset on another machine).
    for value in built["video"]:
        os.remove(video_path(value))
    processor = VideoClipVideoProcessor(num_frames=4, size=16)
    batch = VideoClipCollator(processor, return_paths=True)([{"video": v, "label": 0} for v in reloaded["video"]])
    assert batch["pixel_values_videos"].shape[0] == len(reloaded)


def test_the_collator_reports_video_values_by_path(built, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video\n" * 20)
    processor = VideoClipVideoProcessor(num_frames=4, size=16)
    rows = [{"video": built[0]["video"], "label": 0}, {"video": {"path": str(bad), "bytes": None}, "label": 1}]
    batch = VideoClipCollator(processor, return_paths=True, bad_video="skip")(rows)
    assert batch["video_paths"] == [built[0]["video"]["path"]]
    assert batch["skipped_paths"] == [str(bad)]
    with pytest.raises(VideoDecodingError, match="bad.mp4"):
        VideoClipCollator(processor)(rows)


def test_data_check_and_comparable_splits_take_video_values(built, tmp_path):
    gone = {"path": str(tmp_path / "gone.mp4"), "bytes": None}
    report = check_videos([(built[0]["video"], "a"), (gone, "b")], num_frames=100, num_workers=0)
    assert report.missing == [gone["path"]] and report.too_short == [(built[0]["video"]["path"], 8)]
    other = built.select([1, 0])
    protocol = ProtocolData(name="p", splits=[ProtocolSplit("s0", built, {"test": built}),
                                              ProtocolSplit("s1", other, {"test": other}),
                                              ProtocolSplit("s2", built.select(range(4)), {"test": built})])
    assert [split.name for split in comparable_splits(protocol, 0).splits] == ["s0", "s2"]
