"""Fixtures shared by every test folder: a tiny random CLIP with the toy tokenizer (`clip_dir`), 8 generated mp4
videos of two classes (`dataset`), and `build` / `make_args` for short CPU training runs."""

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from transformers import CLIPConfig, CLIPModel

from hfvideoclip import VideoClipProcessor, VideoClipVideoProcessor
from hfvideoclip.toy.encode import write_mp4
from hfvideoclip.toy.tokenizer import build_tokenizer

WORDS = ["a", "video", "of", "photo", "red", "blue", "circle", "square", "moving", "left", "right", "."]
CLASSES = ["red circle moving left", "blue square moving right"]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = build_tokenizer(WORDS)
    text = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4,
                vocab_size=len(tokenizer), max_position_embeddings=32, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4, image_size=16,
                  patch_size=8)
    path = tmp_path_factory.mktemp("clip")
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(path)
    VideoClipProcessor(tokenizer, VideoClipVideoProcessor(num_frames=4, size=16)).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    rows = {"video": [], "label": []}
    for index in range(8):
        label = index % 2
        frames = np.zeros((8, 16, 16, 3), np.uint8)
        frames[..., label * 2] = 200
        for t in range(8):
            x = t if label == 1 else 7 - t
            frames[t, 4:10, x:x + 6] = rng.integers(0, 255, 3)
        path = folder / f"v{index}.mp4"
        write_mp4(frames, path, fps=8)
        rows["video"].append(str(path))
        rows["label"].append(label)
    features = Features({"video": Value("string"), "label": ClassLabel(names=CLASSES)})
    return Dataset.from_dict(rows, features=features)




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
