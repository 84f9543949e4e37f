"""Fixtures of the adapter tests: the shared tiny CLIP with two vision blocks (adapters and prompts in more than one
block) and a training CSV of the toy videos."""

import pytest
from testing_common import CLASSES, write_csv, write_tiny_clip, write_toy_videos


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return write_tiny_clip(tmp_path_factory.mktemp("clip"), vision_layers=2)


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return write_csv(folder / "train.csv", [[path, CLASSES[label]] for path, label in write_toy_videos(folder)])
