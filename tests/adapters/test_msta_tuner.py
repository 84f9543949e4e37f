"""MSTA tuner (`hfvideoclip.adapters.msta`) on tiny `viclip` and `mean` models: identity at lambda = 0, disabling,
the shared projection, parameter counts, save/load, unload, temporal mixing and config validation.

The towers differ in width (vision 32, text 24) and depth (3 and 2 blocks) so that index and shape mix-ups fail."""

import copy
import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers.models.clip.modeling_clip import CLIPEncoderLayer

from hfvideoclip import VideoClipConfig, VideoClipModel
from hfvideoclip.adapters.msta import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    MstaAdapter,
    MstaConfig,
    MstaModel,
    MstaTextBlock,
    get_msta_model,
)
from hfvideoclip.adapters.msta.layer import _MstaBlock
from hfvideoclip.models.video_clip.modeling_video_clip import VideoClipEncoderLayer, VideoClipLayout

TEXT = dict(hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4, image_size=16,
              patch_size=4)
FRAMES, DIM = 4, 8
MODES = ("viclip", "mean")
VARIANTS = {
    "msta": dict(),
    "adapter": dict(shared_projection=False, temporal=False),
    "vision": dict(towers="vision"),
    "text": dict(towers="text"),
}
COUNT_VARIANTS = {**VARIANTS, "plain": dict(shared_projection=False, mid_projection=False, temporal=False),
                  "layers_2_2": dict(start_layer=2, end_layer=2)}


def msta_config(variant="msta", **overrides):
    return MstaConfig(**{"dim": DIM, **VARIANTS.get(variant, COUNT_VARIANTS.get(variant, {})), **overrides})


@pytest.fixture(scope="module")
def bases():
    models = {}
    for mode in MODES:
        torch.manual_seed(0)
        config = VideoClipConfig(text_config=TEXT, vision_config=VISION, projection_dim=16, temporal_mode=mode,
                                 num_frames=FRAMES)
        model = VideoClipModel(config).eval()
        if mode == "viclip":
            torch.nn.init.normal_(model.vision_model.temporal_embedding, std=0.1)
        models[mode] = model
    return models


def fresh(bases, mode):
    return copy.deepcopy(bases[mode])


VIDEOS = torch.randn(2, FRAMES, 3, 16, 16, generator=torch.Generator().manual_seed(1))
IDS = torch.randint(1, 97, (3, 7), generator=torch.Generator().manual_seed(2))
IDS[:, 0], IDS[:, -1] = 97, 98
IDS[2, 4], IDS[2, 5:] = 98, 0  # a padded prompt
MASK = (IDS != 0).long()


@torch.no_grad()
def features(model):
    return model.get_video_features(VIDEOS), model.get_text_features(IDS, MASK)


def randomize(model: MstaModel, std=0.3, seed=3):
    """Nonzero values in every adapter tensor (biases included)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.adapter_state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * std)
    return model


def adapted(bases, mode, variant="msta", **overrides):
    return randomize(get_msta_model(fresh(bases, mode), msta_config(variant, **overrides))).eval()


# ------------------------------------------------------------------------------------ (a) identity
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_zero_scale_gives_the_base_outputs(bases, mode, variant):
    model = adapted(bases, mode, variant, scale=0.0)
    for got, expected in zip(features(model), features(bases[mode])):
        assert torch.equal(got, expected)


@pytest.mark.parametrize("variant", ["msta", "adapter"])
@pytest.mark.parametrize("mode", MODES)
def test_zero_up_projections_give_the_base_outputs(bases, mode, variant):
    model = adapted(bases, mode, variant, scale=0.5)
    with torch.no_grad():
        for block in model._blocks():
            for module in (block.adapter.up, block.adapter.temporal_up):
                if module is not None:
                    module.weight.zero_()
                    module.bias.zero_()
    for got, expected in zip(features(model), features(bases[mode])):
        assert torch.equal(got, expected)


# ------------------------------------------------------------------------------------ (b) disable
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_adapters_change_outputs_and_disable_adapter_restores_the_base(bases, mode, variant):
    model = adapted(bases, mode, variant, scale=0.5)
    config = model.msta_config
    base_video, base_text = features(bases[mode])
    video, text = features(model)
    assert not torch.allclose(video, base_video, atol=1e-4) if config.adapts_vision else torch.equal(video, base_video)
    assert not torch.allclose(text, base_text, atol=1e-4) if config.adapts_text else torch.equal(text, base_text)
    with model.disable_adapter():
        off_video, off_text = features(model)
    assert torch.equal(off_video, base_video) and torch.equal(off_text, base_text)
    again_video, again_text = features(model)
    assert torch.equal(again_video, video) and torch.equal(again_text, text)


# ------------------------------------------------------------------------------------ (c) shared projection
@pytest.mark.parametrize("mode", MODES)
def test_shared_projection_is_one_parameter_set_trained_by_both_towers(bases, mode):
    model = adapted(bases, mode, "msta", scale=0.5)
    vision_layers = model.vision_model.encoder.layers
    text_layers = model.text_model.encoder.layers
    # blocks 1-2 of both towers share; vision block 3 (no text block 3) has its own middle projection
    assert sorted(model.msta_shared) == ["0", "1"]
    for index in (0, 1):
        assert vision_layers[index].shared is model.msta_shared[str(index)] is text_layers[index].shared
        assert vision_layers[index].adapter.mid is None and text_layers[index].adapter.mid is None
    assert vision_layers[2].shared is None and vision_layers[2].adapter.mid is not None
    shared_names = [name for name, _ in model.named_parameters() if ".proj." in name and "mid" not in name]
    assert sorted(shared_names) == [f"msta_shared.{i}.proj.{p}" for i in (0, 1) for p in ("bias", "weight")]
    assert sum("msta_shared" in key or ".shared" in key for key in model.state_dict()) == 4

    shared = [model.msta_shared[str(i)].proj.weight for i in (0, 1)]
    model.get_video_features(VIDEOS).square().sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in shared)
    assert all(p.grad is None for name, p in model.named_parameters() if "text_model" in name)
    model.zero_grad(set_to_none=True)
    model.get_text_features(IDS, MASK).square().sum().backward()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in shared)
    assert all(p.grad is None for name, p in model.named_parameters() if "vision_model" in name)


def test_deepcopy_keeps_the_projection_shared(bases):
    model = copy.deepcopy(adapted(bases, "viclip"))
    assert model.vision_model.encoder.layers[0].shared is model.msta_shared["0"]
    assert model.text_model.encoder.layers[0].shared is model.msta_shared["0"]


def test_gradient_scaling_scales_adapter_gradients_only(bases):
    grads = {}
    for scaling in (True, False):
        model = adapted(bases, "mean", "msta", scale=0.05, gradient_scaling=scaling)
        pixels = VIDEOS.clone().requires_grad_(True)
        model.get_video_features(pixels).square().sum().backward()
        grads[scaling] = (pixels.grad, {n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    torch.testing.assert_close(grads[True][0], grads[False][0])  # the gradient reaching the input is unchanged
    for name, grad in grads[False][1].items():
        if grad is not None:
            torch.testing.assert_close(grads[True][1][name], grad / 0.05, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------ (d) trainable parameters
@pytest.mark.parametrize("variant", COUNT_VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_only_adapters_train_and_the_count_matches_the_formula(bases, mode, variant):
    base = fresh(bases, mode)
    base_total = sum(p.numel() for p in base.parameters())
    model = get_msta_model(base, msta_config(variant))
    trainable, total = model.get_nb_trainable_parameters()
    assert trainable == MstaModel.expected_trainable_parameters(base.config, model.msta_config) > 0
    assert total == base_total + trainable
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    assert names and all(".adapter." in name or name.startswith("msta_shared.") for name in names)
    assert sorted(names) == sorted(model.adapter_state_dict())


def test_parameter_formula_gives_the_papers_count_for_viclip_b():
    config = VideoClipConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
        temporal_mode="viclip")
    # per block: vision 768*256+256 + 256*768+768 + 4*768, text 512*256+256 + 256*512+512, shared 256*256+256
    assert MstaModel.expected_trainable_parameters(config, MstaConfig()) == 12 * (397312 + 262912 + 65792)
    assert MstaModel.expected_trainable_parameters(config, MstaConfig()) == 8712192  # "8.7M" in the paper


def test_print_trainable_parameters(bases, capsys):
    model = get_msta_model(fresh(bases, "mean"), msta_config())
    model.print_trainable_parameters()
    trainable, total = model.get_nb_trainable_parameters()
    assert f"trainable params: {trainable:,d} || all params: {total:,d}" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ (e) save / load
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
def test_save_pretrained_writes_the_adapter_only_and_reloads_identically(bases, mode, variant, tmp_path):
    model = adapted(bases, mode, variant, scale=0.5)
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    tensors = load_file(tmp_path / WEIGHTS_NAME)
    assert set(tensors) == set(model.adapter_state_dict())
    assert all(".adapter." in key or key.startswith("msta_shared.") for key in tensors)
    assert not any("base_layer" in key or "embeddings" in key for key in tensors)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["tuner"] == "msta"

    loaded = MstaModel.from_pretrained(fresh(bases, mode), tmp_path)
    assert loaded.msta_config == model.msta_config
    for got, expected in zip(features(loaded), features(model)):
        assert torch.equal(got, expected)
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    trainable = MstaModel.from_pretrained(fresh(bases, mode), tmp_path, is_trainable=True)
    assert trainable.get_nb_trainable_parameters()[0] == sum(t.numel() for t in tensors.values())


@pytest.fixture
def saved(bases, tmp_path):
    adapted(bases, "viclip").save_pretrained(tmp_path)
    return tmp_path


def test_load_errors_name_the_missing_file(bases, saved):
    os.remove(saved / WEIGHTS_NAME)
    base = fresh(bases, "viclip")
    with pytest.raises(FileNotFoundError, match=WEIGHTS_NAME):
        MstaModel.from_pretrained(base, saved)
    os.remove(saved / CONFIG_NAME)
    with pytest.raises(FileNotFoundError, match=CONFIG_NAME):
        MstaModel.from_pretrained(base, saved)
    assert not any(isinstance(m, _MstaBlock) for m in base.modules())


def test_load_errors_name_the_file_and_the_tensor(bases, saved):
    tensors = load_file(saved / WEIGHTS_NAME)
    key = "base_model.vision_model.encoder.layers.0.adapter.down.weight"
    tensors[key] = torch.zeros(DIM + 1, 32)
    save_file(tensors, saved / WEIGHTS_NAME)
    base = fresh(bases, "viclip")
    with pytest.raises(ValueError, match=rf"{WEIGHTS_NAME}.*{key}.*\(9, 32\).*\(8, 32\)"):
        MstaModel.from_pretrained(base, saved)
    assert all(isinstance(layer, VideoClipEncoderLayer) for layer in base.vision_model.encoder.layers)
    del tensors[key]
    save_file(tensors, saved / WEIGHTS_NAME)
    with pytest.raises(ValueError, match=rf"{WEIGHTS_NAME}.*missing.*{key}"):
        MstaModel.from_pretrained(fresh(bases, "viclip"), saved)


@pytest.mark.parametrize("edit, message", [
    ({"towers": "audio"}, r"adapter_config\.json.*MstaConfig\.towers='audio'"),
    ({"rank": 4}, r"adapter_config\.json.*unknown field\(s\) rank"),
    ({"tuner": "lora"}, r"adapter_config\.json.*\"tuner\": 'lora'"),
    ({"end_layer": 5}, r"vision tower, which has 3 layers"),
])
def test_invalid_adapter_config_files_are_reported(bases, saved, edit, message):
    data = json.loads((saved / CONFIG_NAME).read_text())
    (saved / CONFIG_NAME).write_text(json.dumps({**data, **edit}))
    with pytest.raises(ValueError, match=message):
        MstaModel.from_pretrained(fresh(bases, "viclip"), saved)


def test_config_round_trip(tmp_path):
    config = msta_config("adapter", start_layer=2, scale=0.001, base_model_name_or_path="x/y")
    config.save_pretrained(tmp_path)
    assert MstaConfig.from_pretrained(tmp_path) == config
    (tmp_path / CONFIG_NAME).write_text("{not json")
    with pytest.raises(ValueError, match=r"adapter_config\.json is not valid JSON"):
        MstaConfig.from_pretrained(tmp_path)


# ------------------------------------------------------------------------------------ (f) merge / unload
@pytest.mark.parametrize("mode", MODES)
def test_merge_and_unload_refuses_and_unload_restores_the_base(bases, mode):
    base = fresh(bases, mode)
    keys = list(base.state_dict())
    model = adapted(bases, mode)  # a different copy: check the adapted one below
    base = model.base_model
    with pytest.raises(NotImplementedError, match=r"cannot be merged.*unload\(\)"):
        model.merge_and_unload()
    restored = model.unload()
    assert restored is base and list(restored.state_dict()) == keys
    assert all(type(layer) is VideoClipEncoderLayer for layer in restored.vision_model.encoder.layers)
    assert all(type(layer) is CLIPEncoderLayer for layer in restored.text_model.encoder.layers)
    assert not any(isinstance(m, (_MstaBlock, MstaAdapter)) for m in restored.modules())
    assert all(p.requires_grad for p in restored.parameters())
    for got, expected in zip(features(restored), features(bases[mode])):
        assert torch.equal(got, expected)


# ------------------------------------------------------------------------------------ (g) temporal mixing
@pytest.mark.parametrize("temporal", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_temporal_up_mixes_neighbouring_frames_of_the_same_patch(mode, temporal):
    torch.manual_seed(0)
    adapter = MstaAdapter(32, DIM, temporal=temporal, own_projection=True).eval()
    layout = VideoClipLayout.for_clip(2, FRAMES, 2, 3, mode)
    hidden = torch.randn(*layout.sequence_shape, 32)
    grid = layout.patch_grid(hidden).clone()
    grid[:, 1, 1, 2] += 3.0  # frame 1, patch row 1, column 2
    perturbed = layout.tokens_from_grid(grid, layout.class_tokens(hidden))
    with torch.no_grad():
        before, after = adapter(hidden, layout), adapter(perturbed, layout)
    changed = (layout.patch_grid(after) - layout.patch_grid(before)).abs().amax(dim=(0, -1)) > 0  # (T, H, W)
    expected = torch.zeros(FRAMES, 2, 3, dtype=torch.bool)
    expected[1, 1, 2] = True
    if temporal:  # kernel 3 in time: frames 0 and 2 of the same patch, nothing else
        expected[0, 1, 2] = expected[2, 1, 2] = True
    assert torch.equal(changed, expected)
    assert torch.equal(layout.class_tokens(after), layout.class_tokens(before))
    # class tokens get the spatial up only
    z = adapter.dropout(adapter.mid(torch.relu(adapter.down(layout.class_tokens(hidden)))))
    torch.testing.assert_close(layout.class_tokens(before), adapter.up(z))


@pytest.mark.parametrize("mode", MODES)
def test_vision_block_adds_the_scaled_adapter_of_the_normalised_block_input(bases, mode):
    model = adapted(bases, mode, "msta", scale=0.5)
    block = model.vision_model.encoder.layers[0]
    layout = VideoClipLayout.for_clip(2, FRAMES, 4, 4, mode)
    x = torch.randn(*layout.sequence_shape, 32)
    with torch.no_grad():
        expected = block.base_layer(x, layout=layout) + 0.5 * block.adapter(
            block.base_layer.layer_norm1(x), layout=layout, shared=model.msta_shared["0"])
        torch.testing.assert_close(block(x, layout=layout), expected)


@pytest.mark.parametrize("variant, mixes", [("msta", True), ("adapter", False)])
def test_mean_mode_frames_interact_only_through_the_temporal_branch(bases, variant, mixes):
    model = adapted(bases, "mean", variant, scale=0.5)
    perturbed = VIDEOS.clone()
    perturbed[:, 0] += 1.0
    with torch.no_grad():
        _, before = model.get_video_features(VIDEOS, return_frame_embeds=True)
        _, after = model.get_video_features(perturbed, return_frame_embeds=True)
    assert (after[:, 0] - before[:, 0]).abs().max() > 1e-3
    frame1 = (after[:, 1] - before[:, 1]).abs().max()
    assert frame1 > 1e-5 if mixes else frame1 < 1e-6


# ------------------------------------------------------------------------------------ (h) validation
@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=0), r"MstaConfig\.dim=0"),
    (dict(start_layer=0), r"MstaConfig\.start_layer=0"),
    (dict(start_layer=3, end_layer=2), r"MstaConfig\.end_layer=2.*start_layer=3"),
    (dict(towers="audio"), r"MstaConfig\.towers='audio'.*'both', 'vision', 'text'"),
    (dict(dropout=1.0), r"MstaConfig\.dropout"),
    (dict(mid_projection=False), r"MstaConfig\.mid_projection.*shared_projection=False"),
])
def test_invalid_config_values_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MstaConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=5), r"dim=5 does not divide the vision hidden size 32.*temporal=False"),
    (dict(dim=8, end_layer=4), r"layers 1\.\.4.*vision tower, which has 3 layers"),
    (dict(dim=8, start_layer=3), r"layers 3\.\.2.*text tower, which has 2 layers"),
])
def test_config_checked_against_the_model(bases, kwargs, message):
    base = fresh(bases, "viclip")
    with pytest.raises(ValueError, match=message):
        get_msta_model(base, MstaConfig(**kwargs))
    assert all(p.requires_grad for p in base.parameters())  # left untouched


def test_config_fits_when_the_failing_part_is_not_adapted(bases):
    get_msta_model(fresh(bases, "viclip"), MstaConfig(dim=5, temporal=False))
    model = get_msta_model(fresh(bases, "viclip"), MstaConfig(dim=8, start_layer=3, towers="vision"))
    assert [type(layer) is VideoClipEncoderLayer for layer in model.vision_model.encoder.layers] == [True, True,
                                                                                                       False]


def test_adapting_twice_is_refused(bases):
    model = get_msta_model(fresh(bases, "mean"), msta_config())
    with pytest.raises(ValueError, match="already has MSTA adapters"):
        get_msta_model(model.base_model, msta_config())


# ------------------------------------------------------------------------------------ wrapper and forwarding
def test_model_forwards_attributes_and_trains_adapters_only(bases):
    base = fresh(bases, "viclip")
    model = get_msta_model(base, msta_config()).train()
    assert model.config is base.config and model.logit_scale is base.logit_scale
    assert model.get_class_embeddings(IDS.view(3, 1, 7), MASK.view(3, 1, 7)).shape == (3, 16)
    out = model(input_ids=IDS, attention_mask=MASK, pixel_values_videos=VIDEOS, labels=torch.tensor([0, 2]))
    out.loss.backward()
    assert all((p.grad is not None) == p.requires_grad for p in model.parameters())


def test_text_block_accepts_tuple_outputs():
    class Legacy(torch.nn.Module):  # older transformers: the layer returns (hidden_states,)
        def __init__(self):
            super().__init__()
            self.layer_norm1 = torch.nn.LayerNorm(24)

        def forward(self, hidden_states, attention_mask, causal_attention_mask=None):
            return (hidden_states * 2,)

    block = MstaTextBlock(Legacy(), MstaAdapter(24, DIM), scale=0.5)
    x = torch.randn(2, 5, 24)
    out = block(x, None, causal_attention_mask=None)
    assert isinstance(out, tuple) and len(out) == 1
    torch.testing.assert_close(out[0], 2 * x + 0.5 * block.adapter(block.base_layer.layer_norm1(x)))


def test_half_precision_base_keeps_float32_adapters(bases):
    model = get_msta_model(fresh(bases, "mean").to(torch.bfloat16), msta_config())
    assert all(t.dtype == torch.float32 for t in model.adapter_state_dict().values())
    with torch.no_grad():
        video = model.get_video_features(VIDEOS.to(torch.bfloat16))
    assert video.dtype == torch.bfloat16 and torch.isfinite(video).all()
