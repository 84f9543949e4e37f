"""`--adaptation st_adapter` (ST-Adapter, Pan et al., NeurIPS 2022): at initialisation the model is CLIP exactly; a
perturbed adapter computes the paper's `x + W_up DWConv3D(W_down x)` on the (T, H, W) patch grid (checked against a
reference written here from the equations, class tokens untouched) in frame-ordered and space-major layouts; a
`taco` run through the CLI trains only the adapters, exports them as part of the model, and the export scores the
same by Hub id without the package; methods that average or interpolate weights are refused in one line."""

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from testing_common import CLASSES, run_flags
from transformers import pipeline

from hfvideoclip import VideoClipConfig, VideoClipModel, VideoClipProcessor
from hfvideoclip.adapters import get_adaptation
from hfvideoclip.cli import main as cli_main
from hfvideoclip.loading import load_video_clip_model
from hfvideoclip.models.video_clip.modeling_video_clip import VideoClipLayout
from hfvideoclip.models.video_clip.st_adapter import StAdapter

TASK = "zero-shot-video-classification"
TEXT = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, image_size=16,
              patch_size=4)
MODES = ["mean", "vclip", "viclip"]


def tiny_base(mode):
    torch.manual_seed(0)
    config = VideoClipConfig(text_config=TEXT, vision_config=VISION, projection_dim=16, temporal_mode=mode,
                             num_frames=4)
    return VideoClipModel(config).eval()


def adapt(model, **overrides):
    args = Namespace(**{"patch_alpha": None, "st_adapter_dim": None, "st_adapter_kernel_size": "3,1,1",
                        "st_adapter_position": "attention", **overrides})
    return get_adaptation("st_adapter").apply(model, args).eval()


def perturb(model, seed=3, std=0.3):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".st_adapter_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def features(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randn(2, 4, 3, 16, 16, generator=generator)
    ids = torch.randint(1, 97, (3, 6), generator=generator)
    with torch.no_grad():
        return model.get_video_features(pixel_values_videos=pixels), model.get_text_features(ids)


# ------------------------------------------------------------------------------------------------ the module
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("position", ["attention", "both"])
def test_at_initialisation_the_model_is_clip_and_only_the_adapters_train(mode, position):
    expected = features(tiny_base(mode))
    model = adapt(tiny_base(mode), st_adapter_position=position)
    trainable_count, total = get_adaptation("st_adapter").count_parameters(model)  # the share the run prints
    assert 0 < trainable_count < total == sum(p.numel() for p in model.parameters())
    spec = model.config.adapter
    assert spec == {"type": "st_adapter", "dim": 16, "kernel_size": [3, 1, 1], "position": position,
                    "start_layer": 1, "end_layer": None}  # r = D / 2, kernel (3, 1, 1), every block
    for got, want in zip(features(model), expected):
        torch.testing.assert_close(got, want, atol=0, rtol=0)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    per_block = 2 if position == "both" else 1
    assert len(trainable) == 3 * per_block * 6 and all(".st_adapter_" in name for name in trainable)
    assert all(name.startswith("vision_model.encoder.layers.") for name in trainable)
    adapter = model.vision_model.encoder.layers[0].st_adapter_attention
    assert not adapter.conv.weight.any() and not adapter.conv.bias.any() and adapter.conv.groups == 16
    assert adapter.down.weight.any() and adapter.up.weight.any()  # random projections, zero convolution (release)
    assert features(perturb(model))[0].sub(expected[0]).abs().max() > 1e-3
    torch.testing.assert_close(features(model)[1], expected[1], atol=0, rtol=0)  # the text tower is untouched


def reference_st_adapter(hidden, adapter, batch, frames, height, width, order):
    """The paper's ST-Adapter on hidden states laid out as `order`, written from the equations with explicit
    indices: patch (t, h, w) of video b sits at row b * T + t, position 1 + h * W + w ("frame") or at row b,
    position 1 + (h * W + w) * T + t ("space_major"); Z = X W_down^T + b_down; the depthwise convolution
    C[c, t, h, w] = bias_c + sum_{i,j,k} K[c, i, j, k] Z[c, t + i - kt // 2, h + j - kh // 2, w + k - kw // 2] (zero
    outside the grid); out = x + C W_up^T + b_up at the patches, the class tokens as they were."""
    w_down, b_down = adapter.down.weight, adapter.down.bias
    w_up, b_up = adapter.up.weight, adapter.up.bias
    kernel, bias = adapter.conv.weight[:, 0], adapter.conv.bias  # (r, kt, kh, kw)
    kt, kh, kw = kernel.shape[1:]

    def where(b, t, h, w):
        n = h * width + w
        return (b * frames + t, 1 + n) if order == "frame" else (b, 1 + n * frames + t)

    out = hidden.clone()
    for b in range(batch):
        z = torch.zeros(frames, height, width, w_down.shape[0], dtype=torch.float64)
        for t in range(frames):
            for h in range(height):
                for w in range(width):
                    row, pos = where(b, t, h, w)
                    z[t, h, w] = hidden[row, pos].double() @ w_down.double().T + b_down.double()
        for t in range(frames):
            for h in range(height):
                for w in range(width):
                    c = bias.double().clone()
                    for i in range(kt):
                        for j in range(kh):
                            for k in range(kw):
                                tt, hh, ww = t + i - kt // 2, h + j - kh // 2, w + k - kw // 2
                                if 0 <= tt < frames and 0 <= hh < height and 0 <= ww < width:
                                    c = c + kernel[:, i, j, k].double() * z[tt, hh, ww]
                    row, pos = where(b, t, h, w)
                    out[row, pos] = (hidden[row, pos].double() + c @ w_up.double().T + b_up.double()).float()
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [(3, 1, 1), (3, 3, 1)])
def test_perturbed_adapter_equals_the_papers_equations_on_the_patch_grid(mode, kernel):
    batch, frames, height, width, dim = 2, 4, 3, 2, 10
    layout = VideoClipLayout.for_clip(batch, frames, height, width, mode)
    torch.manual_seed(1)
    adapter = StAdapter(dim, 4, kernel)
    perturb_all = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in adapter.parameters():
            param.copy_(torch.randn(param.shape, generator=perturb_all) * 0.5)
    hidden = torch.randn(*layout.sequence_shape, dim)
    got = adapter(hidden, layout)
    want = reference_st_adapter(hidden, adapter, batch, frames, height, width, layout.token_order)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layout.class_tokens(got), layout.class_tokens(hidden), atol=0, rtol=0)
    assert not torch.allclose(got, hidden)
    with pytest.raises(ValueError, match="needs the clip layout"):
        adapter(hidden)


def test_a_block_applies_its_adapter_before_the_attention():
    model = perturb(adapt(tiny_base("viclip")))
    layer = model.vision_model.encoder.layers[1]
    layout = VideoClipLayout.for_clip(2, 4, 4, 4, "viclip")
    hidden = torch.randn(*layout.sequence_shape, 32)
    with torch.no_grad():
        got = layer(hidden, layout=layout)
        adapted = layer.st_adapter_attention(hidden, layout)
        output = adapted + layer.self_attn(layer.layer_norm1(adapted), layout=layout)
        want = output + layer.mlp(layer.layer_norm2(output))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", ["mean", "viclip"])
def test_saved_model_rebuilds_its_adapters_from_config_json(mode, tmp_path):
    model = perturb(adapt(tiny_base(mode), st_adapter_position="both"))
    expected = features(model)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["adapter"]["type"] == "st_adapter"
    keys = {k for k in load_file(tmp_path / "model.safetensors") if ".st_adapter_" in k}
    assert keys == {n for n, _ in model.named_parameters() if ".st_adapter_" in n}
    reloaded = load_video_clip_model(tmp_path)
    assert type(reloaded) is VideoClipModel and not any(p.requires_grad for p in reloaded.parameters())
    for got, want in zip(features(reloaded.eval()), expected):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("adapter, message", [
    ({"type": "st_adapter", "dim": 8}, "lacks .*kernel_size"),
    ({"type": "st_adapter", "dim": 8, "kernel_size": [2, 1, 1], "position": "attention", "start_layer": 1,
      "end_layer": None}, "three odd positive sizes"),
    ({"type": "st_adapter", "dim": 8, "kernel_size": [3, 1, 1], "position": "after", "start_layer": 1,
      "end_layer": None}, "position 'after' is not supported"),
])
def test_invalid_st_adapter_field_is_one_line_naming_config_json(adapter, message):
    with pytest.raises(ValueError, match=message) as error:
        VideoClipConfig(text_config=TEXT, vision_config=VISION, adapter=adapter)
    assert "\n" not in str(error.value) and "config.json" in str(error.value)


def test_patch_alpha_and_other_adapters_are_refused_in_one_line():
    with pytest.raises(ValueError, match="--patch_alpha") as error:
        get_adaptation("st_adapter").apply(tiny_base("mean"), Namespace(patch_alpha=0.5))
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------------------------ a run


def test_taco_run_trains_only_the_adapters_and_its_export_scores_the_same_without_the_package(
        clip_dir, train_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", "--method", "taco", "--adaptation", "st_adapter", *run_flags(
        clip_dir, out, "--max_steps", "2", "--learning_rate", "1e-2", "--train_file", train_csv,
        "--skip_final_eval", "true", "--ema_momentum", "0.9")])
    assert code == 0, capsys.readouterr().err[-3000:]
    assert "--adaptation st_adapter:" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["adapter"] == {"type": "st_adapter", "dim": 16, "kernel_size": [3, 1, 1],
                                 "position": "attention", "start_layer": 1, "end_layer": None}
    assert (out / "st_adapter.py").is_file() and (out / "modeling_video_clip.py").is_file()

    # Only the adapters moved: every CLIP tensor is the checkpoint's.
    trained, clip = load_file(out / "model.safetensors"), load_file(os.path.join(clip_dir, "model.safetensors"))
    adapter_keys = {k for k in trained if ".st_adapter_attention." in k}
    assert len(adapter_keys) == 2 * 6
    for key in set(trained) - adapter_keys:
        if key in clip:
            torch.testing.assert_close(trained[key], clip[key], atol=0, rtol=0, msg=key)
    assert any(trained[k].any() for k in adapter_keys if ".conv.weight" in k)  # the convolution left zero

    video = np.random.default_rng(1).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    expected = pipeline(TASK, model=str(out))(video, candidate_labels=CLASSES)  # the package's pipeline
    model = load_video_clip_model(out).eval()
    processor = VideoClipProcessor.from_pretrained(out)
    with torch.no_grad():
        expected_video = model.get_video_features(pixel_values_videos=processor(videos=[video])["pixel_values_videos"])

    repo_id = "org/toy-st-adapter"  # staged in an offline Hub cache, as a download would leave it
    snapshot = tmp_path / "hf_home" / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / ("0" * 40)
    shutil.copytree(out, snapshot, ignore=shutil.ignore_patterns("checkpoint-*"))
    (snapshot.parent.parent / "refs").mkdir(parents=True, exist_ok=True)
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the repository's code may run
import numpy as np, torch
from transformers import AutoModel, AutoProcessor, pipeline
video = np.load({str(tmp_path / 'video.npy')!r})
results = {{}}
for name in ({repo_id!r}, {str(out)!r}):
    model = AutoModel.from_pretrained(name, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(name, trust_remote_code=True)
    with torch.no_grad():
        features = model.get_video_features(pixel_values_videos=processor(videos=[video])["pixel_values_videos"])
    clf = pipeline({TASK!r}, model=name, trust_remote_code=True)
    results[name] = {{"scores": clf(video, candidate_labels={CLASSES!r}), "features": features.tolist(),
                      "adapter": model.config.adapter["type"]}}
print(json.dumps(results))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for got in json.loads(result.stdout.strip().splitlines()[-1]).values():
        assert got["adapter"] == "st_adapter"
        torch.testing.assert_close(torch.tensor(got["features"]), expected_video, atol=1e-5, rtol=0)
        assert [r["label"] for r in got["scores"]] == [r["label"] for r in expected]
        assert [r["score"] for r in got["scores"]] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_methods_that_interpolate_weights_are_refused_in_one_line(clip_dir, train_csv, tmp_path, capsys):
    code = cli_main(["train", "--method", "open_vclip", "--adaptation", "st_adapter", *run_flags(
        clip_dir, tmp_path / "run", "--max_steps", "1", "--train_file", train_csv)])
    assert code != 0
    err = capsys.readouterr().err
    # Open-VCLIP interpolates weights with the zero-shot model (and patches them at export): one line refuses it.
    lines = [line for line in err.splitlines() if "--adaptation st_adapter cannot be combined with" in line]
    assert len(lines) == 1 and ("--patch_alpha" in lines[0] or "--method open_vclip" in lines[0])

