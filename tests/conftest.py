"""Fixtures shared by every test folder: a tiny random CLIP with the toy tokenizer (`clip_dir`), 8 generated mp4
videos of two classes (`dataset`), and `build` / `make_args` for short CPU training runs."""

import pytest
from datasets import ClassLabel, Dataset, Features, Value
from testing_common import CLASSES, make_run_args, write_tiny_clip, write_toy_videos


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return write_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    videos = write_toy_videos(tmp_path_factory.mktemp("videos"))
    features = Features({"video": Value("string"), "label": ClassLabel(names=CLASSES)})
    return Dataset.from_dict({"video": [v for v, _ in videos], "label": [label for _, label in videos]},
                             features=features)


@pytest.fixture
def build(make_args):
    """`build(tmp_path, method, clip_dir, dataset, **overrides)` -> a `VideoClipTrainer` for a short CPU run."""
    from hfvideoclip.training.builder import build_trainer

    def build(tmp_path, method, clip_dir, dataset, **overrides):
        args, config = make_args(tmp_path, method, **overrides)
        return build_trainer(args, clip_dir, dataset, method_config=config)
    return build


@pytest.fixture(scope="session")
def make_args():
    """`make_args(tmp_path, method, **overrides)`, see `make_run_args`."""
    return make_run_args


@pytest.fixture(scope="session")
def toy_cache(tmp_path_factory):
    """One `--cache_dir` for the runs on the toy world's protocols: each protocol is rendered once per test session
    (its cache key holds its parameters, so runs with other parameters render their own)."""
    return tmp_path_factory.mktemp("toy-cache")
