"""VideoClipModel on tiny configs: equivalence with CLIP, the three temporal modes against direct computations,
save/load round trips (AutoModel, trust_remote_code in a clean process) and the ViCLIP converter."""

import math
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, CLIPConfig, CLIPModel

import hfvideoclip  # noqa: F401  (registers the Auto classes)
from hfvideoclip import VideoClipConfig, VideoClipModel
from hfvideoclip.convert.viclip import convert_viclip_checkpoint

TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=30,
              patch_size=2)
FRAMES = 4


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    clip = CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=24)).eval()
    path = tmp_path_factory.mktemp("clip")
    clip.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clip(clip_dir):
    return CLIPModel.from_pretrained(clip_dir).eval()


def videos(batch=2, frames=FRAMES, seed=1):
    return torch.randn(batch, frames, 3, 30, 30, generator=torch.Generator().manual_seed(seed))


def text_ids(n=3):
    ids = torch.randint(1, 97, (n, 7), generator=torch.Generator().manual_seed(2))
    ids[:, 0], ids[:, -1] = 97, 98
    return ids


@torch.no_grad()
def test_mean_mode_equals_clip_frame_features_averaged(clip_dir, clip):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES).eval()
    x = videos()
    expected = clip.get_image_features(pixel_values=x.flatten(0, 1)).pooler_output.view(2, FRAMES, -1).mean(1)
    torch.testing.assert_close(model.get_video_features(pixel_values_videos=x), expected, atol=1e-5, rtol=1e-5)
    expected_text = clip.get_text_features(input_ids=text_ids()).pooler_output
    torch.testing.assert_close(model.get_text_features(input_ids=text_ids()), expected_text, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_forward_output_fields_and_loss(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES).eval()
    labels = torch.tensor([2, 0])
    out = model(input_ids=text_ids(), pixel_values_videos=videos(), labels=labels)
    assert out.logits_per_video.shape == (2, 3) and out.logits_per_text.shape == (3, 2)
    assert out.video_embeds.shape == (2, 24) and out.frame_embeds.shape == (2, FRAMES, 24)
    torch.testing.assert_close(out.video_embeds.norm(dim=-1), torch.ones(2))
    expected = model.logit_scale.exp() * out.video_embeds @ out.text_embeds.t()
    torch.testing.assert_close(out.logits_per_video, expected)
    torch.testing.assert_close(out.loss, F.cross_entropy(expected, labels))
    assert list(out.keys())[0] == "loss"


def _heads(z: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, W) -> (B, heads, L, W / heads)."""
    return z.reshape(z.shape[0], z.shape[1], heads, -1).transpose(1, 2)


def _reference_vclip_features(clip: CLIPModel, x: torch.Tensor, edge: str) -> torch.Tensor:
    """Independent Open-VCLIP computation: per layer, queries of frame t attend to [t+1, t-1, t] tokens."""
    vision = clip.vision_model
    b, t = x.shape[:2]
    h = vision.pre_layrnorm(vision.embeddings(x.flatten(0, 1)))  # (b*t, L, W)
    length, width = h.shape[1:]
    for layer in vision.encoder.layers:
        attn = layer.self_attn
        y = layer.layer_norm1(h)
        q, k, v = attn.q_proj(y), attn.k_proj(y), attn.v_proj(y)
        k, v = k.view(b, t, length, width), v.view(b, t, length, width)
        outputs = []
        for frame in range(t):
            keys, values, valid = [], [], []
            for other in (frame + 1, frame - 1, frame):
                inside = 0 <= other < t
                keys.append(k[:, other] if inside else torch.zeros_like(k[:, 0]))
                values.append(v[:, other] if inside else torch.zeros_like(v[:, 0]))
                valid.append(torch.full((length,), inside))
            keys, values, valid = torch.cat(keys, 1), torch.cat(values, 1), torch.cat(valid)
            qf = q.view(b, t, length, width)[:, frame]
            scores = _heads(qf, attn.num_heads) @ _heads(keys, attn.num_heads).transpose(-1, -2) * attn.scale
            if edge == "mask":
                scores = scores.masked_fill(~valid, float("-inf"))
            out = (scores.softmax(-1) @ _heads(values, attn.num_heads)).transpose(1, 2).reshape(b, length, width)
            outputs.append(attn.out_proj(out))
        h = h + torch.stack(outputs, 1).flatten(0, 1)
        h = h + layer.mlp(layer.layer_norm2(h))
    frames = clip.visual_projection(vision.post_layernorm(h[:, 0])).view(b, t, -1)
    return F.normalize(frames, dim=-1).mean(1)


@pytest.mark.parametrize("edge", ["zero", "mask"])
@torch.no_grad()
def test_vclip_mode_matches_reference(clip_dir, clip, edge):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES, vclip_edge=edge).eval()
    x = videos()
    torch.testing.assert_close(model.get_video_features(pixel_values_videos=x),
                               _reference_vclip_features(clip, x, edge), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("edge", ["zero", "mask"])
def test_vclip_mode_matches_reference_with_autograd(clip_dir, clip, edge):
    """Neighbour keys are built two ways (one buffer without autograd, joined blocks with it): both match."""
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES, vclip_edge=edge).eval()
    x = videos()
    features = model.get_video_features(pixel_values_videos=x)
    assert features.requires_grad
    with torch.no_grad():
        expected = _reference_vclip_features(clip, x, edge)
    torch.testing.assert_close(features.detach(), expected, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_vclip_masked_single_frame_reduces_to_clip_and_zero_edges_do_not(clip_dir, clip):
    x = videos(frames=1)
    expected = F.normalize(clip.get_image_features(pixel_values=x[:, 0]).pooler_output, dim=-1)
    masked = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=1, vclip_edge="mask").eval()
    torch.testing.assert_close(masked.get_video_features(pixel_values_videos=x), expected, atol=1e-5, rtol=1e-5)
    zero = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=1, vclip_edge="zero").eval()
    assert not torch.allclose(zero.get_video_features(pixel_values_videos=x), expected, atol=1e-3)


@torch.no_grad()
def test_vclip_is_invariant_to_reversing_the_clip(clip_dir):
    """Its neighbour keys form an unordered set: the design note says frame order is invisible to it."""
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).eval()
    x = videos()
    torch.testing.assert_close(model.get_video_features(pixel_values_videos=x),
                               model.get_video_features(pixel_values_videos=x.flip(1)), atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_viclip_temporal_embedding_sees_frame_order(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="viclip", num_frames=FRAMES).eval()
    x = videos()
    assert model.vision_model.temporal_embedding.abs().sum() == 0  # zero-init: order-blind at the start
    torch.testing.assert_close(model.get_video_features(pixel_values_videos=x),
                               model.get_video_features(pixel_values_videos=x.flip(1)), atol=1e-5, rtol=1e-4)
    model.vision_model.temporal_embedding.normal_()
    assert not torch.allclose(model.get_video_features(pixel_values_videos=x),
                              model.get_video_features(pixel_values_videos=x.flip(1)), atol=1e-4)
    # other frame counts: truncated when shorter, interpolated when longer
    assert model.get_video_features(pixel_values_videos=videos(frames=2)).shape == (2, 24)
    assert model.get_video_features(pixel_values_videos=videos(frames=6)).shape == (2, 24)


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
@torch.no_grad()
def test_save_and_auto_model_round_trip(clip_dir, tmp_path, mode):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    if mode == "viclip":
        model.vision_model.temporal_embedding.normal_()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert AutoConfig.from_pretrained(tmp_path).temporal_mode == mode
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, VideoClipModel)
    x = videos()
    torch.testing.assert_close(loaded.get_video_features(pixel_values_videos=x),
                               model.get_video_features(pixel_values_videos=x), atol=1e-5, rtol=1e-5)


def test_trust_remote_code_without_the_package(clip_dir, tmp_path):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).eval()
    model.save_pretrained(tmp_path)
    x = videos()
    ids = text_ids(6).view(3, 2, -1)
    with torch.no_grad():
        expected = model.get_video_features(pixel_values_videos=x)
        expected_logits = model.compute_logits(expected, model.get_class_embeddings(ids))
    torch.save(x, tmp_path / "x.pt")
    torch.save(ids, tmp_path / "ids.pt")
    script = textwrap.dedent(f"""
        import sys
        sys.path = [p for p in sys.path if 'hfvideoclip' not in p and not p.endswith('/src')]
        try:
            import hfvideoclip
            raise SystemExit('hfvideoclip should not be importable here')
        except ImportError:
            pass
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
        assert 'hfvideoclip' not in type(model).__module__, type(model).__module__
        with torch.no_grad():
            out = model.get_video_features(pixel_values_videos=torch.load({str(tmp_path / 'x.pt')!r}))
            classes = model.get_class_embeddings(torch.load({str(tmp_path / 'ids.pt')!r}))
            logits = model.compute_logits(out, classes)
        torch.save((out, logits), {str(tmp_path / 'out.pt')!r})
    """)
    # A clean sys.path: the editable install's finder is removed by blocking the import via a meta-path hook.
    blocker = ("import sys\nclass _Block:\n    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'hfvideoclip' or name.startswith('hfvideoclip.'):\n"
               "            raise ImportError('blocked')\nsys.meta_path.insert(0, _Block())\n")
    result = subprocess.run([sys.executable, "-c", blocker + script], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    out, logits = torch.load(tmp_path / "out.pt")
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, expected_logits, atol=1e-4, rtol=1e-5)


def test_bad_inputs_raise_clear_errors(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES)
    with pytest.raises(ValueError, match=r"\(batch, frames, 3, height, width\)"):
        model.get_video_features(pixel_values_videos=torch.randn(FRAMES, 3, 30, 30))
    with pytest.raises(ValueError, match="expects"):
        model.get_video_features(pixel_values_videos=torch.randn(1, FRAMES, 3, 32, 32))
    with pytest.raises(ValueError, match="temporal_mode='spacetime'.*mean, vclip, viclip"):
        VideoClipConfig(temporal_mode="spacetime")


def test_unknown_temporal_mode_in_saved_config_names_the_field(clip_dir, tmp_path):
    import json

    VideoClipModel.from_clip(clip_dir).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["temporal_mode"] = "spacetime"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="temporal_mode.*config.json"):
        AutoModel.from_pretrained(tmp_path)


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
def test_gradient_checkpointing_gives_the_same_gradients(clip_dir, mode):
    """The layers take `layout=` as a keyword: checkpointing must still recompute them (attention runs twice) and
    give the same gradients."""
    torch.manual_seed(0)
    x = videos()
    grads, calls = [], []
    for checkpointing in (False, True):
        model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).train()
        if checkpointing:
            if hasattr(model, "activation_checkpointing_enable"):
                model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:  # transformers < 5.23
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        count = []
        for layer in model.vision_model.encoder.layers:
            layer.self_attn.register_forward_pre_hook(
                lambda module, args, kwargs, count=count: count.append(kwargs["layout"].temporal_mode),
                with_kwargs=True)
        model.get_video_features(pixel_values_videos=x).sum().backward()
        grads.append(model.vision_model.encoder.layers[0].self_attn.q_proj.weight.grad.clone())
        calls.append(count)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)
    layers = VISION["num_hidden_layers"]
    assert calls[0] == [mode] * layers and calls[1] == [mode] * (2 * layers)  # recomputed with the same layout


# ------------------------------------------------------------------------------------------ scoring head
def _unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def test_compute_logits_is_scaled_cosine_with_gradients(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES)
    g = torch.Generator().manual_seed(5)
    video = (torch.randn(3, 24, generator=g) * 4).requires_grad_()
    classes = torch.randn(5, 24, generator=g) * 0.3
    expected_cos = _unit(video.detach().double()) @ _unit(classes.double()).t()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))  # OpenAI CLIP's value: the scale still gets a gradient
    logits = model.compute_logits(video, classes)
    assert logits.shape == (3, 5) and logits.dtype == torch.float32
    torch.testing.assert_close(logits.double(), 100 * expected_cos, atol=1e-4, rtol=1e-5)
    (logits * torch.randn(3, 5, generator=g)).sum().backward()
    assert model.logit_scale.grad.abs() > 0 and video.grad.abs().sum() > 0
    with torch.no_grad():  # the bound lives on the parameter, applied after an optimizer step
        model.logit_scale.fill_(math.log(1000.0))
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(100.0))
    with torch.no_grad():
        model.logit_scale.fill_(math.log(20.0))
    model.logit_scale.grad = None
    logits = model.compute_logits(video, classes, frame_embeds=torch.randn(3, FRAMES, 24))  # ignored by cosine
    torch.testing.assert_close(logits.double(), 20 * expected_cos, atol=1e-4, rtol=1e-5)
    logits.sum().backward()
    assert model.logit_scale.grad.abs() > 0
    # an explicit log-scale overrides the parameter (interpolated weights)
    torch.testing.assert_close(model.compute_logits(video, classes, logit_scale=math.log(7.0)).double(),
                               7 * expected_cos, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="dimension"):
        model.compute_logits(video, torch.randn(5, 23))
    with pytest.raises(ValueError, match="get_class_embeddings"):
        model.compute_logits(video, torch.randn(5, 2, 24))


def test_compute_logits_runs_in_float32_for_half_precision(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES).to(torch.bfloat16)
    g = torch.Generator().manual_seed(6)
    video, classes = torch.randn(4, 24, generator=g), torch.randn(6, 24, generator=g)
    reference = math.exp(model.logit_scale.item()) * (
        _unit(video.bfloat16().double()) @ _unit(classes.bfloat16().double()).t())
    for context in (torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16)):
        with context:
            logits = model.compute_logits(video.bfloat16(), classes.bfloat16())
        assert logits.dtype == torch.float32
        torch.testing.assert_close(logits.double(), reference, atol=1e-4, rtol=1e-5)


@torch.no_grad()
def test_get_class_embeddings_is_the_template_ensemble_of_clip_text_features(clip_dir, clip):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).eval()
    ids = text_ids(6).view(3, 2, 7)  # 3 classes x 2 prompts
    mask = torch.ones_like(ids)
    per_prompt = [clip.get_text_features(input_ids=ids[:, k]).pooler_output for k in range(2)]
    expected = _unit(_unit(per_prompt[0]) + _unit(per_prompt[1]))
    got = model.get_class_embeddings(ids, attention_mask=mask)
    assert got.shape == (3, 24)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got, _unit(per_prompt[0] + per_prompt[1]), atol=1e-4)  # not the unnormalised mean
    torch.testing.assert_close(model.get_class_embeddings(ids[:, 0]), _unit(per_prompt[0]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="num_prompts"):
        model.get_class_embeddings(ids.view(-1))
    with pytest.raises(ValueError, match="attention_mask"):
        model.get_class_embeddings(ids, attention_mask=mask[:, 0])


def test_training_flows_through_class_embeddings_and_the_head(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="vclip", num_frames=FRAMES).train()
    out = model(input_ids=text_ids(6).view(3, 2, 7), pixel_values_videos=videos(), labels=torch.tensor([1, 2]))
    out.loss.backward()
    for parameter in (model.text_projection.weight, model.visual_projection.weight, model.logit_scale,
                      model.text_model.embeddings.token_embedding.weight):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


@pytest.mark.parametrize("prompts", [1, 2])
@torch.no_grad()
def test_forward_equals_a_reference_from_clip_parts(clip_dir, clip, prompts):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES).eval()
    with torch.no_grad():
        model.logit_scale.fill_(math.log(30.0))
    x, labels = videos(), torch.tensor([2, 0])
    ids = text_ids(3 * prompts).view(3, prompts, 7) if prompts > 1 else text_ids(3)
    video = clip.get_image_features(pixel_values=x.flatten(0, 1)).pooler_output.view(2, FRAMES, -1)
    flat = ids.reshape(-1, 7)
    text = _unit(_unit(clip.get_text_features(input_ids=flat).pooler_output).view(3, prompts, -1).mean(1))
    expected = 30.0 * _unit(video.mean(1)) @ text.t()
    out = model(input_ids=ids, pixel_values_videos=x, labels=labels)
    torch.testing.assert_close(out.logits_per_video, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(out.logits_per_text, expected.t(), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(out.loss, F.cross_entropy(expected, labels), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.video_embeds, _unit(video.mean(1)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.text_embeds, text, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.frame_embeds, video, atol=1e-5, rtol=1e-5)
    tuple_out = model(input_ids=ids, pixel_values_videos=x, return_dict=False)
    torch.testing.assert_close(tuple_out[0], expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
@torch.no_grad()
def test_get_video_features_returns_frame_embeds(clip_dir, clip, mode):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    x = videos()
    video, frames = model.get_video_features(pixel_values_videos=x, return_frame_embeds=True)
    torch.testing.assert_close(video, model.get_video_features(pixel_values_videos=x))
    if mode == "viclip":
        assert frames is None
        return
    assert frames.shape == (2, FRAMES, 24)
    pooled = frames.mean(1) if mode == "mean" else _unit(frames).mean(1)
    torch.testing.assert_close(video, pooled)
    if mode == "mean":
        per_frame = clip.get_image_features(pixel_values=x.flatten(0, 1)).pooler_output.view(2, FRAMES, -1)
        torch.testing.assert_close(frames, per_frame, atol=1e-5, rtol=1e-5)


def test_scoring_head_config_save_load_and_errors(clip_dir, tmp_path):
    import json

    from hfvideoclip.models.video_clip.configuration_video_clip import SCORING_HEADS
    from hfvideoclip.models.video_clip.modeling_video_clip import (
        VIDEO_CLIP_SCORING_HEADS,
        VideoClipCosineHead,
    )

    assert set(SCORING_HEADS) == set(VIDEO_CLIP_SCORING_HEADS)
    model = VideoClipModel.from_clip(clip_dir, num_frames=FRAMES, scoring_head="cosine")
    assert isinstance(model.scoring_head, VideoClipCosineHead)
    assert not any(name.startswith("scoring_head") for name in model.state_dict())  # no parameters
    model.save_pretrained(tmp_path / "new")
    saved = json.loads((tmp_path / "new" / "config.json").read_text())
    assert saved["scoring_head"] == "cosine"
    assert AutoModel.from_pretrained(tmp_path / "new").config.scoring_head == "cosine"
    # configs written before the field existed load with the default
    del saved["scoring_head"]
    (tmp_path / "new" / "config.json").write_text(json.dumps(saved))
    old = AutoModel.from_pretrained(tmp_path / "new")
    assert old.config.scoring_head == "cosine" and isinstance(old.scoring_head, VideoClipCosineHead)
    with pytest.raises(ValueError, match="scoring_head='sinkhorn'.*cosine"):
        VideoClipConfig(scoring_head="sinkhorn")
    saved["scoring_head"] = "sinkhorn"
    (tmp_path / "new" / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="scoring_head.*config.json"):
        AutoModel.from_pretrained(tmp_path / "new")


# ------------------------------------------------------------------------------------------ layer layout
GRID = VISION["image_size"] // VISION["patch_size"]


def _expected_layout(mode, batch=2, frames=FRAMES):
    from hfvideoclip.models.video_clip.modeling_video_clip import VideoClipLayout

    return VideoClipLayout(batch_size=batch, num_frames=frames, grid_height=GRID, grid_width=GRID,
                           temporal_mode=mode, token_order="space_major" if mode == "viclip" else "frame",
                           vclip_edge="zero")


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
@torch.no_grad()
def test_every_vision_layer_and_attention_receives_the_layout(clip_dir, mode):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    seen = {"layer": [], "attention": []}

    def record(kind):
        def hook(module, args, kwargs):
            seen[kind].append((kwargs.get("layout"), tuple(args[0].shape)))
        return hook

    for layer in model.vision_model.encoder.layers:
        layer.register_forward_pre_hook(record("layer"), with_kwargs=True)
        layer.self_attn.register_forward_pre_hook(record("attention"), with_kwargs=True)
    model.get_video_features(pixel_values_videos=videos())
    expected = _expected_layout(mode)
    for kind in ("layer", "attention"):
        assert len(seen[kind]) == VISION["num_hidden_layers"]
        for layout, shape in seen[kind]:
            assert layout == expected
            assert shape == expected.sequence_shape + (VISION["hidden_size"],)


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
def test_patch_grid_round_trip(mode):
    layout = _expected_layout(mode, batch=3, frames=2)
    rows, length = layout.sequence_shape
    assert (rows, length) == ((6, 1 + GRID * GRID) if mode != "viclip" else (3, 1 + GRID * GRID * 2))
    hidden = torch.randn(rows, length, 5)
    grid = layout.patch_grid(hidden)
    assert grid.shape == (3, 2, GRID, GRID, 5)
    torch.testing.assert_close(layout.tokens_from_grid(grid, layout.class_tokens(hidden)), hidden, rtol=0, atol=0)
    other = torch.randn(3, 2, GRID, GRID, 7)
    tokens = layout.tokens_from_grid(other)  # zero class tokens: an adapter's delta
    torch.testing.assert_close(layout.patch_grid(tokens), other, rtol=0, atol=0)
    assert layout.class_tokens(tokens).abs().sum() == 0
    with pytest.raises(ValueError, match="expects hidden states of shape"):
        layout.patch_grid(hidden[:, :-1])
    with pytest.raises(ValueError, match="grid of shape"):
        layout.tokens_from_grid(other[:, :1])


class _GridRecorder(torch.nn.Module):
    """A tuner-like wrapper around an encoder layer: it reads the token grid through the layout it receives."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.grids = layer, []

    def forward(self, hidden_states, layout=None):
        self.grids.append(layout.patch_grid(hidden_states))
        return self.layer(hidden_states, layout=layout)


@pytest.mark.parametrize("mode", ["mean", "vclip", "viclip"])
@torch.no_grad()
def test_patch_grid_position_matches_the_pixel_location(clip_dir, mode):
    """Only one patch of one frame of one video is non-zero after the embeddings: the grid must hold it at the
    (video, frame, row, column) of its pixels, in every token order."""
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=mode, num_frames=FRAMES).eval()
    vision = model.vision_model
    vision.embeddings.position_embedding.weight.zero_()
    vision.embeddings.class_embedding.zero_()
    vision.pre_layrnorm.bias.zero_()  # LayerNorm of a zero token is then zero
    assert vision.embeddings.patch_embedding.bias is None
    recorders = [_GridRecorder(layer) for layer in vision.encoder.layers]
    vision.encoder.layers = torch.nn.ModuleList(recorders)
    b, t, h, w, patch = 1, 2, 3, 11, VISION["patch_size"]
    x = torch.zeros(2, FRAMES, 3, 30, 30)
    x[b, t, :, h * patch:(h + 1) * patch, w * patch:(w + 1) * patch] = torch.randn(3, patch, patch)
    model.get_video_features(pixel_values_videos=x)
    grid = recorders[0].grids[0]
    assert grid.shape == (2, FRAMES, GRID, GRID, VISION["hidden_size"])
    assert grid.abs().sum(-1).nonzero().tolist() == [[b, t, h, w]]
    assert len(recorders[1].grids) == 1  # the next wrapped layer got its layout too


# ------------------------------------------------------------------------------------------ ViCLIP converter
def _viclip_state_dict(width=32, layers=2, text_width=32, text_layers=2, patch=2, image=8, frames=4, out=24,
                       vocab=99, context=12) -> dict:
    """A random state dict with the official ViCLIP key names and layouts."""
    g = torch.Generator().manual_seed(3)
    r = lambda *s: torch.randn(*s, generator=g) * 0.2  # noqa: E731
    sd = {
        "vision_encoder.conv1.weight": r(width, 3, 1, patch, patch),
        "vision_encoder.class_embedding": r(width),
        "vision_encoder.positional_embedding": r((image // patch) ** 2 + 1, width),
        "vision_encoder.temporal_positional_embedding": r(1, frames, width),
        "vision_encoder.ln_pre.weight": 1 + r(width), "vision_encoder.ln_pre.bias": r(width),
        "vision_encoder.ln_post.weight": 1 + r(width), "vision_encoder.ln_post.bias": r(width),
        "vision_encoder.proj": r(width, out),
        "text_encoder.token_embedding.weight": r(vocab, text_width),
        "text_encoder.positional_embedding": r(context, text_width),
        "text_encoder.ln_final.weight": 1 + r(text_width), "text_encoder.ln_final.bias": r(text_width),
        "text_encoder.text_projection": r(text_width, out),
        "temp": torch.tensor(0.01),
    }
    for tower, w, n in (("vision_encoder", width, layers), ("text_encoder", text_width, text_layers)):
        for i in range(n):
            p = f"{tower}.transformer.resblocks.{i}."
            sd.update({p + "attn.in_proj_weight": r(3 * w, w), p + "attn.in_proj_bias": r(3 * w),
                       p + "attn.out_proj.weight": r(w, w), p + "attn.out_proj.bias": r(w),
                       p + "ln_1.weight": 1 + r(w), p + "ln_1.bias": r(w), p + "ln_2.weight": 1 + r(w),
                       p + "ln_2.bias": r(w), p + "mlp.c_fc.weight": r(4 * w, w), p + "mlp.c_fc.bias": r(4 * w),
                       p + "mlp.c_proj.weight": r(w, 4 * w), p + "mlp.c_proj.bias": r(w)})
    return sd


def _block(sd, p, x, heads, causal=False):
    """One original CLIP ResidualAttentionBlock with nn.MultiheadAttention semantics, x: (B, L, W)."""
    w = x.shape[-1]
    y = F.layer_norm(x, (w,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"])
    qkv = y @ sd[p + "attn.in_proj_weight"].t() + sd[p + "attn.in_proj_bias"]
    q, k, v = (z.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2) for z in qkv.chunk(3, -1))
    scores = q @ k.transpose(-1, -2) / math.sqrt(w // heads)
    if causal:
        scores = scores + torch.full(scores.shape[-2:], float("-inf")).triu(1)
    a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
    x = x + a @ sd[p + "attn.out_proj.weight"].t() + sd[p + "attn.out_proj.bias"]
    y = F.layer_norm(x, (w,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"])
    h = y @ sd[p + "mlp.c_fc.weight"].t() + sd[p + "mlp.c_fc.bias"]
    h = h * torch.sigmoid(1.702 * h)
    return x + h @ sd[p + "mlp.c_proj.weight"].t() + sd[p + "mlp.c_proj.bias"]


def _reference_viclip_video(sd, video, heads=4, layers=2):
    """Direct ViCLIP vision forward from the original weights. video: (B, T, 3, H, W)."""
    b, t = video.shape[:2]
    conv = sd["vision_encoder.conv1.weight"][:, :, 0]
    x = F.conv2d(video.flatten(0, 1), conv, stride=conv.shape[-1]).flatten(2).transpose(1, 2)  # (B*T, N, W)
    pos = sd["vision_encoder.positional_embedding"]
    x = x + pos[1:]
    n, w = x.shape[1:]
    x = x.view(b, t, n, w) + sd["vision_encoder.temporal_positional_embedding"][:, :t].unsqueeze(2)
    x = x.transpose(1, 2).reshape(b, n * t, w)  # space-major: index n * T + t
    cls = (sd["vision_encoder.class_embedding"] + pos[0]).expand(b, 1, w)
    x = torch.cat([cls, x], 1)
    x = F.layer_norm(x, (w,), sd["vision_encoder.ln_pre.weight"], sd["vision_encoder.ln_pre.bias"])
    for i in range(layers):
        x = _block(sd, f"vision_encoder.transformer.resblocks.{i}.", x, heads)
    x = F.layer_norm(x, (w,), sd["vision_encoder.ln_post.weight"], sd["vision_encoder.ln_post.bias"])
    return x[:, 0] @ sd["vision_encoder.proj"]


def _reference_viclip_text(sd, ids, heads=4, layers=2):
    x = sd["text_encoder.token_embedding.weight"][ids] + sd["text_encoder.positional_embedding"][: ids.shape[1]]
    for i in range(layers):
        x = _block(sd, f"text_encoder.transformer.resblocks.{i}.", x, heads, causal=True)
    w = x.shape[-1]
    x = F.layer_norm(x, (w,), sd["text_encoder.ln_final.weight"], sd["text_encoder.ln_final.bias"])
    return x[torch.arange(ids.shape[0]), ids.argmax(-1)] @ sd["text_encoder.text_projection"]


@torch.no_grad()
def test_viclip_converter_matches_direct_computation(tmp_path):
    sd = _viclip_state_dict()
    path = tmp_path / "viclip.pth"
    torch.save({"model": sd, "epoch": 3}, path)
    model = convert_viclip_checkpoint(path, output_dir=tmp_path / "hf", vision_heads=4, text_heads=4).eval()
    assert model.config.temporal_mode == "viclip" and model.config.image_mean[0] == pytest.approx(0.485)
    torch.testing.assert_close(model.logit_scale.exp(), torch.tensor(100.0))
    video = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(model.get_video_features(pixel_values_videos=video),
                               _reference_viclip_video(sd, video), atol=1e-4, rtol=1e-4)
    ids = torch.tensor([[49406 % 99, 5, 7, 98, 0, 0], [3, 9, 98, 0, 0, 0]])
    model.text_model.eos_token_id = 2  # the original pools at argmax(ids); eos id 2 selects that code path
    torch.testing.assert_close(model.get_text_features(input_ids=ids), _reference_viclip_text(sd, ids),
                               atol=1e-4, rtol=1e-4)
    reloaded = AutoModel.from_pretrained(tmp_path / "hf").eval()
    torch.testing.assert_close(reloaded.get_video_features(pixel_values_videos=video),
                               _reference_viclip_video(sd, video), atol=1e-4, rtol=1e-4)


def test_viclip_converter_rejects_other_checkpoints(tmp_path):
    torch.save({"model": {"foo": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="other.pth has no ViCLIP weights"):
        convert_viclip_checkpoint(tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth does not exist"):
        convert_viclip_checkpoint(tmp_path / "missing.pth")
