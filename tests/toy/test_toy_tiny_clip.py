import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.world import all_pairs
from hfvideoclip.training.toy_pretraining import IMAGE_SIZE, preprocess_frames, zero_shot_still_accuracy

REPO = Path(__file__).resolve().parents[2]


def test_shipped_model_loads_and_is_small():
    path = toy_clip_path()
    size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    assert size < 5 * 1024 * 1024
    model = CLIPModel.from_pretrained(path)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.config.vision_config.image_size == IMAGE_SIZE
    config = json.load(open(os.path.join(path, "preprocessor_config.json")))
    assert config["size"] == {"shortest_edge": IMAGE_SIZE}
    assert config["crop_size"] == {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = CLIPImageProcessor.from_pretrained(path)
    frames = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    pixels = processor(images=list(frames.numpy()), return_tensors="pt")["pixel_values"]
    assert pixels.shape == preprocess_frames(frames).shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE)


def test_shipped_model_knows_colours_and_shapes():
    model = CLIPModel.from_pretrained(toy_clip_path())
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    accuracy = zero_shot_still_accuracy(model, tokenizer, pairs=all_pairs(), videos_per_pair=3)
    # 42-way, chance 2.4 %. The recipe measures 98 % / 64 % with 12 videos per pair; 3 per pair gives 99 % / 67 %.
    assert accuracy["seen"] > 0.9
    assert accuracy["held_out"] > 0.4


def test_shipped_text_tower_tells_motion_phrases_apart():
    """Frames never show motion, so without the recipe's text-only term every "a circle <motion>" embedded at
    cosine ~0.98 and a frozen text tower could not tell motion classes apart."""
    import torch.nn.functional as F

    from hfvideoclip.toy.world import MOTIONS, is_valid, motion_shape_name

    model = CLIPModel.from_pretrained(toy_clip_path()).eval()
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    for shape in ("circle", "star"):
        names = [motion_shape_name(shape, m) for m in MOTIONS if is_valid(shape, m)]
        with torch.no_grad():
            text = model.get_text_features(**tokenizer(names, padding=True, return_tensors="pt")).pooler_output
        text = F.normalize(text, dim=-1)
        similarity = text @ text.T
        off_diagonal = similarity[~torch.eye(len(names), dtype=torch.bool)]
        assert off_diagonal.mean() < 0.7 and off_diagonal.max() < 0.95, shape


def test_pretraining_recipe_smoke(tmp_path):
    out = tmp_path / "clip"
    result = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "pretrain_toy_clip.py"), "--output_dir", str(out), "--num_clips",
         "40", "--steps", "2", "--batch_size", "16", "--eval_videos_per_pair", "1", "--threads", "1"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seen pairs" in result.stdout
    assert CLIPModel.from_pretrained(out).config.projection_dim == 64
    assert CLIPTokenizer.from_pretrained(out)("a red circle")["input_ids"]
    info = json.load(open(out / "pretraining_info.json"))
    assert set(info["zero_shot_still_top1"]["bare"]) == {"seen", "held_out"}


def test_shipped_model_knows_motion_from_single_frames_but_not_its_direction():
    """Pretrained on single frames whose moving shapes leave symmetric motion trails, captioned with their motion:
    the teacher names motions zero-shot, also on shape-motion combinations it never saw captioned, and cannot
    tell a direction pair's members apart (a still shows the axis of a motion, not its direction). The v2 model,
    pretrained without trails, scored 'all' ~0.1 on the first vocabulary."""
    from hfvideoclip.training.toy_pretraining import zero_shot_motion_accuracy

    model = CLIPModel.from_pretrained(toy_clip_path()).eval()
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    # one motion of each kind a still can show; chance 1/35
    axes = zero_shot_motion_accuracy(model, tokenizer, videos_per_class=2,
                                     motions=("still", "rotating", "side to side", "bouncing", "moving left",
                                              "growing"))
    assert axes["all"] > 0.35 and axes["held_out"] > 0.25, axes
    # every motion of toy-b2n (chance 1/47): the v3 model, which never saw "blinking" captioned, scored 0.10 here,
    # because that untrained word drew almost every video
    b2n = zero_shot_motion_accuracy(model, tokenizer, videos_per_class=2)
    assert b2n["all"] > 0.2, b2n
    pairs = zero_shot_motion_accuracy(model, tokenizer, videos_per_class=2,
                                      motions=("moving left", "moving right", "growing", "shrinking"))
    assert 0.3 < pairs["pair_vs_partner"] < 0.7, pairs
