"""Fixtures shared by every test folder: a tiny random CLIP with the toy tokenizer (`clip_dir`), 8 generated mp4
videos of two classes (`dataset`), and `build` / `make_args` for short CPU training runs."""

import pytest
from datasets import ClassLabel, Dataset, Features, Value
from testing_common import CLASSES, write_tiny_clip, write_toy_videos


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


def make_run_args(tmp_path, method, **overrides):
    """(VideoClipTrainingArguments, method config) for a 4-step CPU run; overrides go to whichever holds the field."""
    from dataclasses import fields

    from hfvideoclip.methods import get_method
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    config_class = get_method(method).config_class
    own = {f.name for f in fields(config_class)}
    values = dict(output_dir=str(tmp_path), method=method, num_frames=4, templates="single", max_steps=4,
                  per_device_train_batch_size=4, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                  report_to="none", seed=7, disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)
    method_values = {"taco": dict(ema_momentum=0.9), "open_mede": dict(gwa_every_n_steps=2, meta_tasks=2)}.get(method, {})
    for key, value in overrides.items():
        (method_values if key in own else values)[key] = value
    return VideoClipTrainingArguments(**values), config_class(**method_values)
