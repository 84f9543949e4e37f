"""`hfvideoclip explain`: the patch-label similarity maps against an independent computation with transformers'
CLIPModel (frame-mean backbone = CLIP on every frame), and the PNG the command writes."""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import CLIPModel

from hfvideoclip import VideoClipModel, VideoClipProcessor
from hfvideoclip.cli import main as cli_main
from hfvideoclip.evaluation.explain import explain_video, patch_label_similarity
from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.encode import write_mp4


def test_maps_equal_clips_projected_patch_tokens_against_the_label():
    clip = CLIPModel.from_pretrained(toy_clip_path()).eval()
    model = VideoClipModel.from_clip(toy_clip_path(), temporal_mode="mean", num_frames=4).eval()
    torch.manual_seed(0)
    pixels = torch.randn(1, 4, 3, 32, 32)
    label = F.normalize(torch.randn(model.config.projection_dim), dim=-1)
    maps = patch_label_similarity(model, pixels, label)
    with torch.no_grad():
        tokens = clip.vision_model(pixel_values=pixels[0]).last_hidden_state[:, 1:]  # (T, N, width)
        projected = clip.visual_projection(clip.vision_model.post_layernorm(tokens))
    expected = F.cosine_similarity(projected, label.view(1, 1, -1), dim=-1)
    grid = 32 // model.config.vision_config.patch_size
    assert maps.shape == (1, 4, grid, grid)
    assert torch.allclose(maps[0].reshape(4, -1), expected, atol=1e-5)


def test_explain_command_writes_the_frames_with_their_maps(tmp_path, capsys):
    model_dir = tmp_path / "model"
    VideoClipModel.from_clip(toy_clip_path(), num_frames=4).save_pretrained(model_dir)
    VideoClipProcessor.from_pretrained(toy_clip_path(), num_frames=4).save_pretrained(model_dir)
    frames = np.zeros((8, 32, 32, 3), np.uint8)
    frames[:, 4:16, 4:16, 0] = 230
    write_mp4(frames, tmp_path / "red.mp4", fps=8)
    explanation = explain_video(VideoClipModel.from_pretrained(model_dir).eval(),
                                VideoClipProcessor.from_pretrained(model_dir), str(tmp_path / "red.mp4"),
                                ["red square", "blue circle"])
    assert explanation.frames.shape[0] == 4 and explanation.maps.shape[0] == 4
    assert abs(sum(r["score"] for r in explanation.ranked) - 1) < 1e-5
    code = cli_main(["explain", str(tmp_path / "red.mp4"), "--model", str(model_dir), "--labels",
                     "red square,blue circle", "--output", str(tmp_path / "x.png")])
    assert code == 0 and "x.png" in capsys.readouterr().out
    image = Image.open(tmp_path / "x.png")
    assert image.size[0] == 4 * 160 and image.size[1] > 160
    assert cli_main(["explain", str(tmp_path / "missing.mp4"), "--model", str(model_dir), "--labels", "a"]) == 2
