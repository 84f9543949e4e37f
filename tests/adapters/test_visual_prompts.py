"""`--adaptation prompts` (deep visual prompt tuning, VPT-deep; Jia et al., ECCV 2022): the vision tower equals a
reference written here from transformers' own `CLIPEncoderLayer`s (prompts after the class token, block, prompt
outputs dropped, the next block's fresh prompts) in the `mean` and `viclip` modes, and from the neighbour-frame
equations in `vclip`; only the prompts train (share printed); prompts start as VPT's uniform(-v, v),
v = sqrt(6 / (3 * patch_h * patch_w + D)); a `taco` run through the CLI exports them inside the model and the export
gives the same logits without the package; flags of another adaptation and bad config fields are refused in one
line."""

import json
import math
import os
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from testing_common import CLASSES, run_flags
from transformers.models.clip.modeling_clip import CLIPEncoderLayer, CLIPVisionEmbeddings

from hfvideoclip import VideoClipConfig, VideoClipModel, VideoClipProcessor
from hfvideoclip.adapters import get_adaptation
from hfvideoclip.adapters.base import trainable_share_text
from hfvideoclip.cli import main as cli_main
from hfvideoclip.loading import load_video_clip_model
from hfvideoclip.models.video_clip.visual_prompts import VisualPrompts, vpt_init_bound

TEXT = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, image_size=16,
              patch_size=4)
BATCH, FRAMES = 2, 4


def tiny_base(mode, **config):
    torch.manual_seed(0)
    config = VideoClipConfig(text_config=TEXT, vision_config=VISION, projection_dim=16, temporal_mode=mode,
                             num_frames=FRAMES, **config)
    model = VideoClipModel(config).eval()
    if mode == "viclip":  # a trained-looking temporal embedding, so the reference must place it right
        with torch.no_grad():
            model.vision_model.temporal_embedding.normal_(0, 0.5)
    return model


def adapt(model, **overrides):
    args = Namespace(**{"patch_alpha": None, "prompt_tokens": 3, "prompt_dropout": 0.0, **overrides})
    return get_adaptation("prompts").apply(model, args).eval()


def pixels(seed=0):
    return torch.randn(BATCH, FRAMES, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------------ the reference
def clip_block(model, index):
    """Vision block `index` of `model` as transformers' own `CLIPEncoderLayer` (the prompts left out)."""
    layer = CLIPEncoderLayer(model.config.vision_config)
    state = {k: v for k, v in model.vision_model.encoder.layers[index].state_dict().items()
             if not k.startswith("visual_prompts.")}
    layer.load_state_dict(state)
    return layer.eval()


def run_clip_block(layer, hidden):
    out = layer(hidden, None)
    return out[0] if isinstance(out, tuple) else out


def _neighbours(z, t):
    """(B, T, L, D) -> (B, 3L, D): frames t+1, t-1, t of every video, zeros for a frame outside the clip."""
    frames = z.shape[1]
    blocks = [z[:, t + 1] if t + 1 < frames else torch.zeros_like(z[:, t]),
              z[:, t - 1] if t > 0 else torch.zeros_like(z[:, t]), z[:, t]]
    return torch.cat(blocks, dim=1)


def vclip_block(layer, hidden, batch, frames):
    """Open-VCLIP's block from its equations: the queries of frame t attend to the keys/values of frames t+1, t-1
    and t (zero vectors for a missing neighbour, `vclip_edge="zero"`), with the layer's own weights."""
    attn = layer.self_attn
    heads, length, width = attn.num_heads, hidden.shape[1], hidden.shape[2]
    x = layer.layer_norm1(hidden)
    q = attn.q_proj(x).view(batch, frames, length, width)
    k = attn.k_proj(x).view(batch, frames, length, width)
    v = attn.v_proj(x).view(batch, frames, length, width)
    out = torch.zeros_like(q)
    for t in range(frames):
        keys, values = _neighbours(k, t), _neighbours(v, t)
        for h in range(heads):
            cut = slice(h * attn.head_dim, (h + 1) * attn.head_dim)
            weights = torch.softmax(q[:, t, :, cut] @ keys[..., cut].transpose(1, 2) * attn.head_dim ** -0.5, -1)
            out[:, t, :, cut] = weights @ values[..., cut]
    hidden = hidden + attn.out_proj(out.reshape(batch * frames, length, width))
    return hidden + layer.mlp(layer.layer_norm2(hidden))


def reference_frame_features(model, pixel_values):
    """VPT-deep over the vision tower, written out: tokens -> for each block i: [cls, E_i, rest] -> block ->
    [cls, rest] -> post_layernorm(cls) -> projection: (B, T, D), or (B, 1, D) with viclip's one class token."""
    config, vision, mode = model.config, model.vision_model, model.config.temporal_mode
    batch, frames = pixel_values.shape[:2]
    flat = pixel_values.flatten(0, 1)
    if mode == "viclip":  # ViCLIP's space-major tokens (not under test: the prompts come after them)
        tokens = vision._viclip_tokens(flat, batch, frames)
    else:
        embeddings = CLIPVisionEmbeddings(config.vision_config)
        embeddings.load_state_dict(vision.embeddings.state_dict())
        tokens = embeddings(flat)  # (B * T, 1 + N, D)
    hidden = vision.pre_layrnorm(tokens)
    for index, layer in enumerate(vision.encoder.layers):
        prompts = layer.visual_prompts.tokens  # (P, D)
        count = prompts.shape[0]
        rows = hidden.shape[0]
        hidden = torch.cat([hidden[:, :1], prompts.expand(rows, -1, -1), hidden[:, 1:]], dim=1)
        block = clip_block(model, index)
        hidden = vclip_block(block, hidden, batch, frames) if mode == "vclip" else run_clip_block(block, hidden)
        hidden = torch.cat([hidden[:, :1], hidden[:, 1 + count:]], dim=1)
    pooled = model.visual_projection(vision.post_layernorm(hidden[:, 0]))
    return pooled.view(batch, -1, pooled.shape[-1])


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
def test_vision_output_equals_vpt_deep_written_from_clips_own_blocks(mode):
    base = tiny_base(mode)
    with torch.no_grad():
        plain = base.get_frame_features(pixels())
    model = adapt(base)
    with torch.no_grad():
        got = model.get_frame_features(pixels())
        want = reference_frame_features(model, pixels())
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert (got - plain).abs().max() > 1e-3  # the prompts do change the output
    # Each block's prompts count: altering the last block's changes the output too (no prompt output carried on).
    with torch.no_grad():
        model.vision_model.encoder.layers[-1].visual_prompts.tokens.mul_(-3.0)
        moved = model.get_frame_features(pixels())
        torch.testing.assert_close(moved, reference_frame_features(model, pixels()), atol=1e-5, rtol=1e-5)
    assert (moved - got).abs().max() > 1e-4


def test_the_layout_outside_a_block_is_unchanged_and_text_is_untouched():
    model = adapt(tiny_base("mean"))
    layer = model.vision_model.encoder.layers[0]
    hidden = torch.randn(BATCH * FRAMES, 1 + 16, 32)
    with torch.no_grad():
        assert layer(hidden).shape == hidden.shape
    ids = torch.randint(1, 97, (3, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model.get_text_features(ids), tiny_base("mean").get_text_features(ids),
                                   atol=0, rtol=0)


def test_prompt_dropout_acts_in_training_only():
    model = adapt(tiny_base("mean"), prompt_dropout=0.5)
    assert model.config.adapter["dropout"] == 0.5
    with torch.no_grad():
        first = model.get_video_features(pixel_values_videos=pixels())
        torch.testing.assert_close(model.get_video_features(pixel_values_videos=pixels()), first, atol=0, rtol=0)
        model.train()
        torch.manual_seed(1)
        dropped = model.get_video_features(pixel_values_videos=pixels())
    assert (dropped - first).abs().max() > 1e-4


# ------------------------------------------------------------------------------------------------ what trains
def test_only_the_prompts_train_and_the_share_is_counted():
    model = adapt(tiny_base("mean"))
    printed = trainable_share_text("prompts", *get_adaptation("prompts").count_parameters(model))
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert sorted(trainable) == [f"vision_model.encoder.layers.{i}.visual_prompts.tokens" for i in range(3)]
    assert all(p.shape == (3, 32) for p in trainable.values())
    total = sum(p.numel() for p in model.parameters())
    line = [line for line in printed.splitlines() if line.startswith("--adaptation prompts:")]
    assert line == [f"--adaptation prompts: 288 trainable parameters of {total:,} ({100 * 288 / total:.2f} %)"]
    assert model.config.adapter == {"type": "prompts", "num_tokens": 3, "dropout": 0.0}
    assert not model.logit_scale.requires_grad  # the text side and the scale stay frozen, as st_adapter / adapter


def test_defaults_are_eight_prompts_without_dropout(capsys):
    model = get_adaptation("prompts").apply(tiny_base("mean"), Namespace(patch_alpha=None))
    assert model.config.adapter == {"type": "prompts", "num_tokens": 8, "dropout": 0.0}
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    fields = VideoClipTrainingArguments.__dataclass_fields__
    assert fields["prompt_tokens"].default == 8 and fields["prompt_dropout"].default == 0.0


# ------------------------------------------------------------------------------------------------ initialisation
def test_initialisation_is_vpts_uniform_range():
    # VPT (KMnP/vpt, src/models/vit_prompt/vit.py): v = sqrt(6 / (3 * patch_h * patch_w + D)), uniform(-v, v).
    assert vpt_init_bound(16, 768) == pytest.approx(math.sqrt(6 / (3 * 256 + 768))) == pytest.approx(0.0625)
    assert vpt_init_bound((14, 14), 1024) == pytest.approx(math.sqrt(6 / (3 * 196 + 1024)))
    torch.manual_seed(0)
    tokens = VisualPrompts(768, 50, patch_size=16).tokens.detach()
    bound = 0.0625
    assert tokens.abs().max() <= bound and tokens.abs().max() > 0.99 * bound
    assert tokens.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)  # uniform, not normal
    assert abs(tokens.mean().item()) < 0.01 * bound
    assert (tokens.abs() > 0.5 * bound).float().mean().item() == pytest.approx(0.5, abs=0.02)
    model = adapt(tiny_base("mean"))  # patch 4, D 32 in the model itself
    bound = math.sqrt(6 / (3 * 16 + 32))
    for layer in model.vision_model.encoder.layers:
        tokens = layer.visual_prompts.tokens
        assert tokens.abs().max() <= bound and tokens.abs().max() > 0.5 * bound


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("flag, value, adaptation", [("prompt_tokens", 16, "lora"), ("prompt_dropout", 0.1, "full"),
                                                     ("st_adapter_dim", 32, "prompts")])
def test_a_flag_of_another_adaptation_is_refused_in_one_line(flag, value, adaptation, tmp_path):
    from hfvideoclip.training.arguments import VideoClipTrainingArguments

    with pytest.raises(ValueError, match=f"--{flag} applies to --adaptation") as error:
        VideoClipTrainingArguments(output_dir=str(tmp_path), adaptation=adaptation, **{flag: value},
                                   report_to="none")
    assert "\n" not in str(error.value)
    owner = "prompts" if flag.startswith("prompt_") else "st_adapter"
    assert str(error.value) == (f"--{flag} applies to --adaptation {owner}, not {adaptation}; drop it or pick that "
                                "adaptation.")
    VideoClipTrainingArguments(output_dir=str(tmp_path), adaptation="prompts", prompt_tokens=16, prompt_dropout=0.1,
                               report_to="none")


@pytest.mark.parametrize("adapter, message", [
    ({"type": "prompts", "num_tokens": 8}, r"lacks \['dropout'\]"),
    ({"type": "prompts", "num_tokens": 0, "dropout": 0.0}, "num_tokens=0 must be a positive integer"),
    ({"type": "prompts", "num_tokens": 8, "dropout": 1.0}, r"dropout=1.0 must be a number in \[0, 1\)"),
    ({"type": "prompts", "num_tokens": 8, "dropout": 0.0, "deep": True}, r"has unknown \['deep'\]"),
])
def test_invalid_prompts_field_is_one_line_naming_config_json(adapter, message):
    with pytest.raises(ValueError, match=message) as error:
        VideoClipConfig(text_config=TEXT, vision_config=VISION, adapter=adapter)
    assert "\n" not in str(error.value) and "config.json" in str(error.value)


def test_patch_alpha_and_other_adapters_are_refused_in_one_line():
    with pytest.raises(ValueError, match="--adaptation prompts cannot be combined with --patch_alpha") as error:
        get_adaptation("prompts").apply(tiny_base("mean"), Namespace(patch_alpha=0.5))
    assert "\n" not in str(error.value)
    st = get_adaptation("st_adapter").apply(tiny_base("mean"), Namespace(patch_alpha=None))
    with pytest.raises(ValueError, match="already has st_adapter adapters"):
        adapt(st)


@pytest.mark.parametrize("mode", ["mean", "viclip"])
def test_saved_model_rebuilds_its_prompts_from_config_json(mode, tmp_path):
    model = adapt(tiny_base(mode))
    with torch.no_grad():
        expected = model.get_video_features(pixel_values_videos=pixels())
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["adapter"] == {"type": "prompts", "num_tokens": 3,
                                                                            "dropout": 0.0}
    keys = {k for k in load_file(tmp_path / "model.safetensors") if ".visual_prompts." in k}
    assert keys == {n for n, _ in model.named_parameters() if ".visual_prompts." in n}
    reloaded = load_video_clip_model(tmp_path)
    assert type(reloaded) is VideoClipModel and not any(p.requires_grad for p in reloaded.parameters())
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval().get_video_features(pixel_values_videos=pixels()), expected,
                                   atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------------ a run
def test_taco_run_trains_only_the_prompts_and_its_export_gives_the_same_logits_without_the_package(
        clip_dir, train_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli_main(["train", "--method", "taco", "--adaptation", "prompts", *run_flags(
        clip_dir, out, "--max_steps", "2", "--learning_rate", "1e-2", "--train_file", train_csv,
        "--skip_final_eval", "true", "--ema_momentum", "0.9", "--prompt_tokens", "4")])
    assert code == 0, capsys.readouterr().err[-3000:]
    printed = capsys.readouterr().out
    assert "--adaptation prompts: 256 trainable parameters of" in printed  # 2 blocks x 4 prompts x 32
    config = json.loads((out / "config.json").read_text())
    assert config["adapter"] == {"type": "prompts", "num_tokens": 4, "dropout": 0.0}
    assert (out / "visual_prompts.py").is_file() and (out / "modeling_video_clip.py").is_file()

    # Only the prompts moved: every CLIP tensor is the checkpoint's, and the prompts left their initialisation range.
    trained, clip = load_file(out / "model.safetensors"), load_file(os.path.join(clip_dir, "model.safetensors"))
    prompt_keys = {k for k in trained if ".visual_prompts." in k}
    assert prompt_keys == {f"vision_model.encoder.layers.{i}.visual_prompts.tokens" for i in range(2)}
    for key in set(trained) - prompt_keys:
        if key in clip:
            torch.testing.assert_close(trained[key], clip[key], atol=0, rtol=0, msg=key)
    assert any(trained[k].abs().max() > vpt_init_bound(8, 32) for k in prompt_keys)  # lr 1e-2, 2 steps

    video = np.random.default_rng(1).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
    np.save(tmp_path / "video.npy", video)
    model = load_video_clip_model(out).eval()
    processor = VideoClipProcessor.from_pretrained(out)
    inputs = processor(text=CLASSES, videos=[video], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                         pixel_values_videos=inputs["pixel_values_videos"]).logits_per_video
    script = f"""
import json, sys
sys.modules["hfvideoclip"] = None  # `import hfvideoclip` fails: only the folder's code may run
import numpy as np, torch
from transformers import AutoModel, AutoProcessor
video = np.load({str(tmp_path / 'video.npy')!r})
model = AutoModel.from_pretrained({str(out)!r}, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained({str(out)!r}, trust_remote_code=True)
inputs = processor(text={CLASSES!r}, videos=[video], padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                   pixel_values_videos=inputs["pixel_values_videos"]).logits_per_video
print(json.dumps({{"logits": logits.tolist(), "adapter": model.config.adapter, "module": type(model).__module__,
                   "prompts": type(model.vision_model.encoder.layers[0].visual_prompts).__module__}}))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["adapter"] == {"type": "prompts", "num_tokens": 4, "dropout": 0.0}
    assert got["module"].startswith("transformers_modules") and got["prompts"].startswith("transformers_modules")
    torch.testing.assert_close(torch.tensor(got["logits"]), expected, atol=1e-4, rtol=0)
    assert (expected[0, 0] - expected[0, 1]).abs() > 0  # two different class scores, compared one by one


def test_methods_that_interpolate_weights_are_refused_in_one_line(clip_dir, train_csv, tmp_path, capsys):
    code = cli_main(["train", "--method", "open_vclip", "--adaptation", "prompts", *run_flags(
        clip_dir, tmp_path / "run", "--max_steps", "1", "--train_file", train_csv)])
    assert code != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "--adaptation prompts cannot be combined with" in line]
    assert len(lines) == 1 and ("--patch_alpha" in lines[0] or "--method open_vclip" in lines[0])
