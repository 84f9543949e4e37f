"""Converters of Open-VCLIP / FROSTER (PySlowFast), ViFi-CLIP / OST and OpenAI CLIP checkpoints, on synthetic
checkpoints with the official key names built by hand from a tiny `CLIPModel`: converted features equal the source
model's; files that need code execution, TorchScript archives and unknown layouts are refused with the file named."""

import sys
import types

import pytest
import torch
from transformers import AutoModel, CLIPConfig, CLIPModel

import hfvideoclip  # noqa: F401  (registers the Auto classes)
from hfvideoclip import VideoClipModel
from hfvideoclip.convert.checkpoints import (
    convert_openai_clip_checkpoint,
    convert_pyslowfast_checkpoint,
    convert_vificlip_checkpoint,
    infer_clip_config,
    load_checkpoint_safely,
    openai_clip_to_hf_state_dict,
)
from hfvideoclip.models.video_clip.configuration_video_clip import (
    IMAGENET_MEAN,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
)
from hfvideoclip.models.video_clip.processing_video_clip import VideoClipProcessor
from hfvideoclip.toy import toy_clip_path

# Vocabulary of the package's tiny CLIP tokenizer (used as the tokenizer source): eos 625 = vocab - 1, as CLIP's.
TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=626,
            max_position_embeddings=32, bos_token_id=624, eos_token_id=625, pad_token_id=625)
VISION = dict(hidden_size=48, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, image_size=16,
              patch_size=4)
HEADS = dict(vision_heads=4, text_heads=4)
FRAMES = 3


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=24)).eval()
    with torch.no_grad():  # every tensor distinct (no all-ones LayerNorms, no zero biases)
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
        model.logit_scale.fill_(3.1)
    return model


@pytest.fixture(scope="module")
def clip_dir(clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("clip")
    clip.save_pretrained(path)
    return path


def official_layout(clip: CLIPModel) -> dict:
    """The OpenAI `clip` package's state dict, written out by hand from the Hugging Face modules."""
    sd = {}
    vision, text = clip.vision_model, clip.text_model

    def blocks(layers, prefix):
        for i, layer in enumerate(layers):
            p, a = f"{prefix}transformer.resblocks.{i}.", layer.self_attn
            sd[p + "attn.in_proj_weight"] = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
            sd[p + "attn.in_proj_bias"] = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias])
            sd[p + "attn.out_proj.weight"], sd[p + "attn.out_proj.bias"] = a.out_proj.weight, a.out_proj.bias
            sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = layer.layer_norm1.weight, layer.layer_norm1.bias
            sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = layer.layer_norm2.weight, layer.layer_norm2.bias
            sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"] = layer.mlp.fc1.weight, layer.mlp.fc1.bias
            sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"] = layer.mlp.fc2.weight, layer.mlp.fc2.bias

    sd["visual.conv1.weight"] = vision.embeddings.patch_embedding.weight
    sd["visual.class_embedding"] = vision.embeddings.class_embedding
    sd["visual.positional_embedding"] = vision.embeddings.position_embedding.weight
    sd["visual.ln_pre.weight"], sd["visual.ln_pre.bias"] = vision.pre_layrnorm.weight, vision.pre_layrnorm.bias
    blocks(vision.encoder.layers, "visual.")
    sd["visual.ln_post.weight"], sd["visual.ln_post.bias"] = vision.post_layernorm.weight, vision.post_layernorm.bias
    sd["visual.proj"] = clip.visual_projection.weight.t()
    sd["token_embedding.weight"] = text.embeddings.token_embedding.weight
    sd["positional_embedding"] = text.embeddings.position_embedding.weight
    blocks(text.encoder.layers, "")
    sd["ln_final.weight"], sd["ln_final.bias"] = text.final_layer_norm.weight, text.final_layer_norm.bias
    sd["text_projection"] = clip.text_projection.weight.t()
    sd["logit_scale"] = clip.logit_scale
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


def videos(batch=2, frames=FRAMES, seed=1):
    return torch.randn(batch, frames, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def text_ids():
    ids = torch.randint(1, 624, (3, 9), generator=torch.Generator().manual_seed(2))
    ids[:, 0] = 624
    ids[0, 8], ids[1, 5], ids[2, 3] = 625, 625, 625  # end of text at different positions, padding after it
    ids[1, 6:], ids[2, 4:] = 625, 625
    return ids


@torch.no_grad()
def assert_matches_clip(model: VideoClipModel, clip: CLIPModel) -> None:
    """Text features equal CLIP's; in `mean` mode the frame features equal CLIP's image features, in `vclip` mode
    they equal `VideoClipModel.from_clip` (tested against a direct computation elsewhere)."""
    torch.testing.assert_close(model.get_text_features(input_ids=text_ids()),
                               clip.get_text_features(input_ids=text_ids()).pooler_output, atol=1e-5, rtol=1e-5)
    x = videos()
    if model.config.temporal_mode == "mean":
        expected = clip.get_image_features(pixel_values=x.flatten(0, 1)).pooler_output.view(2, FRAMES, -1)
    else:
        reference = VideoClipModel.from_clip(clip, temporal_mode=model.config.temporal_mode, num_frames=FRAMES,
                                             image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD).eval()
        expected = reference.get_frame_features(x)
    torch.testing.assert_close(model.get_frame_features(x), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.logit_scale, clip.logit_scale)


# ------------------------------------------------------------------------------------------------ mapping
def test_openai_layout_maps_to_exactly_the_clip_weights(clip):
    converted = openai_clip_to_hf_state_dict(official_layout(clip))
    expected = {k: v for k, v in clip.state_dict().items() if not k.endswith("position_ids")}
    assert set(converted) == set(expected)
    for key, tensor in expected.items():
        torch.testing.assert_close(converted[key], tensor, atol=0, rtol=0, msg=key)
    prefixed = openai_clip_to_hf_state_dict({"model." + k: v for k, v in official_layout(clip).items()}, "model.")
    assert set(prefixed) == set(expected)


def test_infer_clip_config_reads_the_architecture_from_shapes(clip):
    with pytest.raises(ValueError, match="MLP activation is not in the tensors.*--hidden_act quick_gelu"):
        infer_clip_config(official_layout(clip), **HEADS)  # QuickGELU vs GELU is not in the shapes: never guessed
    config = infer_clip_config(official_layout(clip), **HEADS, hidden_act="quick_gelu", temporal_mode="vclip",
                               num_frames=5)
    vision, text = config.vision_config, config.text_config
    assert (vision.hidden_size, vision.intermediate_size, vision.num_hidden_layers) == (48, 40, 2)
    assert (vision.patch_size, vision.image_size, vision.hidden_act) == (4, 16, "quick_gelu")
    assert (text.hidden_size, text.intermediate_size, text.num_hidden_layers) == (32, 37, 2)
    assert (text.vocab_size, text.max_position_embeddings, text.eos_token_id, text.bos_token_id) == (626, 32, 625, 624)
    assert (config.projection_dim, config.temporal_mode, config.num_frames) == (24, "vclip", 5)
    assert config.logit_scale_init_value == pytest.approx(3.1)
    wide = CLIPModel(CLIPConfig(text_config={**TEXT, "hidden_size": 128, "num_attention_heads": 2},
                                vision_config={**VISION, "hidden_size": 192, "num_attention_heads": 3}))
    config = infer_clip_config(official_layout(wide), hidden_act="gelu")  # OpenAI's rule: heads = width // 64
    assert config.vision_config.hidden_act == config.text_config.hidden_act == "gelu"
    assert (config.vision_config.num_attention_heads, config.text_config.num_attention_heads) == (3, 2)
    with pytest.raises(ValueError, match="vision width 48 is not divisible into 0 attention heads.*vision_heads="):
        infer_clip_config(official_layout(clip), hidden_act="quick_gelu")


# ------------------------------------------------------------------------------------------------ PySlowFast
@pytest.mark.parametrize("layout", ["open_vclip_swa", "open_vclip_train", "froster_ddp"])
def test_pyslowfast_checkpoints_convert(clip, tmp_path, layout):
    official = official_layout(clip)
    if layout == "open_vclip_swa":  # weight_average_tool.py: {"model_state": {"model." + key}}
        checkpoint = {"model_state": {"model." + k: v for k, v in official.items()}}
    elif layout == "open_vclip_train":  # checkpoint.py save_checkpoint, JIT metadata kept
        model_state = {"model." + k: v for k, v in official.items()}
        model_state.update({"model.input_resolution": torch.tensor(16), "model.context_length": torch.tensor(32),
                            "model.vocab_size": torch.tensor(626)})
        checkpoint = {"epoch": 3, "model_state": model_state, "cfg": "MODEL:\n  ARCH: vitb16\n",
                      "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
                      "scaler_state": {"scale": 65536.0, "growth_factor": 2.0}}
    else:  # FROSTER with the DDP prefix, the frozen teacher and the distillation projectors
        model_state = {"module.model." + k: v for k, v in official.items()}
        model_state.update({"module.raw_model." + k: torch.zeros_like(v) for k, v in official.items()})
        model_state.update({f"module.projector_{m}.{i}.weight": torch.randn(24, 24) for m in "vt" for i in (0, 2)})
        checkpoint = {"epoch": 22, "model_state": model_state}
    path = tmp_path / "checkpoint.pyth"
    torch.save(checkpoint, path)
    mode = "mean" if layout == "froster_ddp" else "vclip"
    model = convert_pyslowfast_checkpoint(path, tmp_path / "out", temporal_mode=mode, num_frames=FRAMES, **HEADS)
    assert model.config.image_mean == pytest.approx(list(OPENAI_CLIP_MEAN))
    assert_matches_clip(model, clip)
    reloaded = AutoModel.from_pretrained(tmp_path / "out").eval()
    assert reloaded.config.temporal_mode == mode and reloaded.config.vclip_edge == "zero"
    assert (reloaded.config.frame_pooling, reloaded.config.view_pooling) == ("logits", "logits")  # official scoring
    assert_matches_clip(reloaded, clip)
    assert (tmp_path / "out" / "video_preprocessor_config.json").is_file()


def test_pyslowfast_unknown_keys_and_layouts_name_the_file(clip, tmp_path):
    official = official_layout(clip)
    model_state = {"model." + k: v for k, v in official.items()}
    torch.save({"model_state": {**model_state, "head": torch.zeros(4, 24)}}, tmp_path / "head.pyth")
    with pytest.raises(ValueError, match=r"head.pyth: .*outside the CLIP model.*head"):
        convert_pyslowfast_checkpoint(tmp_path / "head.pyth", **HEADS)
    adapter = {**model_state, "model.visual.transformer.resblocks.0.adapter.0.weight": torch.zeros(2, 2)}
    torch.save({"model_state": adapter}, tmp_path / "adapter.pyth")
    with pytest.raises(ValueError, match=r"adapter.pyth: keys that are not part of a CLIP ViT.*adapter\.0\.weight"):
        convert_pyslowfast_checkpoint(tmp_path / "adapter.pyth", **HEADS)
    del model_state["model.ln_final.bias"]
    torch.save({"model_state": model_state}, tmp_path / "partial.pyth")
    with pytest.raises(ValueError, match=r"partial.pyth: missing CLIP tensors: ln_final.bias"):
        convert_pyslowfast_checkpoint(tmp_path / "partial.pyth", **HEADS)
    torch.save({"model": {"module.image_encoder.conv1.weight": torch.zeros(1)}, "epoch": 1}, tmp_path / "vifi.pth")
    with pytest.raises(ValueError, match=r"vifi.pth is not a PySlowFast .* 'model_state'"):
        convert_pyslowfast_checkpoint(tmp_path / "vifi.pth")
    with pytest.raises(FileNotFoundError, match="missing.pyth does not exist"):
        convert_pyslowfast_checkpoint(tmp_path / "missing.pyth")


# ------------------------------------------------------------------------------------------------ ViFi-CLIP / OST
class _FakeYacsNode(dict):
    """Pickles like yacs.config.CfgNode: a dict subclass with its flags in __dict__."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__.update({"__immutable__": True, "__deprecated_keys__": set(), "__renamed_keys__": {},
                              "__new_allowed__": False})


def save_with_yacs_config(obj: dict, path) -> None:
    """torch.save with a `yacs.config.CfgNode` config (as ViFi-CLIP's epoch_saving), yacs absent when loading."""
    package, module = types.ModuleType("yacs"), types.ModuleType("yacs.config")
    _FakeYacsNode.__module__, _FakeYacsNode.__qualname__ = "yacs.config", "CfgNode"
    module.CfgNode, package.config = _FakeYacsNode, module
    sys.modules.update({"yacs": package, "yacs.config": module})
    try:
        config = _FakeYacsNode(MODEL=_FakeYacsNode(ARCH="ViT-B/16"), DATA=_FakeYacsNode(NUM_FRAMES=32))
        torch.save({**obj, "config": config}, path)
    finally:
        del sys.modules["yacs"], sys.modules["yacs.config"]


def vificlip_state_dict(clip, with_token_embedding: bool) -> dict:
    sd = {}
    for key, tensor in official_layout(clip).items():
        if key.startswith("visual."):
            sd["module.image_encoder." + key[len("visual."):]] = tensor
        elif key == "logit_scale":
            sd["module.logit_scale"] = tensor
        elif key != "token_embedding.weight" or with_token_embedding:
            sd["module.text_encoder." + key] = tensor
    if not with_token_embedding:  # ViFi-CLIP: class-name embeddings as a buffer of the prompt learner
        sd["module.prompt_learner.complete_text_embeddings"] = torch.randn(5, 32, 32)
    return sd


def test_vificlip_checkpoint_converts_with_the_token_embedding_of_its_base_clip(clip, clip_dir, tmp_path):
    path = tmp_path / "vifi_best.pth"
    save_with_yacs_config({"model": vificlip_state_dict(clip, False), "optimizer": {"state": {}, "param_groups": []},
                           "lr_scheduler": {"t_initial": 10}, "max_accuracy": 71.3, "epoch": 9}, path)
    assert load_checkpoint_safely(path)["config"]["MODEL"]["ARCH"] == "ViT-B/16"  # yacs not imported
    with pytest.raises(ValueError, match=r"vifi_best.pth has no token embedding.*base_clip="):
        convert_vificlip_checkpoint(path, **HEADS)
    model = convert_vificlip_checkpoint(path, tmp_path / "out", num_frames=FRAMES, base_clip=clip_dir,
                                        tokenizer=toy_clip_path(), **HEADS)
    assert model.config.temporal_mode == "mean" and model.config.image_mean == pytest.approx(list(IMAGENET_MEAN))
    assert_matches_clip(model, clip)
    processor = VideoClipProcessor.from_pretrained(tmp_path / "out")
    assert (processor.video_processor.size, processor.video_processor.crop_size) == (18, 16)  # 256/224 * 16, 16
    assert processor.video_processor.num_frames == FRAMES
    reloaded = AutoModel.from_pretrained(tmp_path / "out").eval()
    assert_matches_clip(reloaded, clip)
    ids = processor(text=["a red circle", "a blue square moving left"])["input_ids"]
    torch.testing.assert_close(reloaded.get_text_features(input_ids=ids),
                               clip.get_text_features(input_ids=ids).pooler_output, atol=1e-5, rtol=1e-5)


def test_ost_checkpoint_keeps_its_token_embedding_and_takes_the_descriptor_head(clip, tmp_path):
    path = tmp_path / "ost.pth"
    save_with_yacs_config({"model": vificlip_state_dict(clip, True), "epoch": 9}, path)
    model = convert_vificlip_checkpoint(path, tmp_path / "out", num_frames=FRAMES,
                                        scoring_head="optimal_descriptor", **HEADS)
    assert model.config.scoring_head == "optimal_descriptor"
    assert_matches_clip(model, clip)
    reloaded = AutoModel.from_pretrained(tmp_path / "out")
    assert reloaded.config.scoring_head == "optimal_descriptor"
    assert (reloaded.config.frame_pooling, reloaded.config.view_pooling) == ("features", "probabilities")


def test_vificlip_prompting_variants_are_refused(clip, tmp_path):
    sd = vificlip_state_dict(clip, True)
    sd["module.image_encoder.VPT"] = torch.zeros(8, 48)
    sd["module.prompt_learner.ctx"] = torch.zeros(4, 32)
    torch.save({"model": sd}, tmp_path / "prompted.pth")
    with pytest.raises(ValueError, match=r"prompted.pth: keys VideoClipModel cannot represent: .*prompt_learner.ctx"):
        convert_vificlip_checkpoint(tmp_path / "prompted.pth", **HEADS)


# ------------------------------------------------------------------------------------------------ OpenAI CLIP
def test_openai_clip_state_dict_converts_with_a_processor(clip, tmp_path):
    sd = official_layout(clip)
    sd.update({"input_resolution": torch.tensor(16), "context_length": torch.tensor(32),
               "vocab_size": torch.tensor(626)})  # as in a TorchScript archive's state dict
    torch.save(sd, tmp_path / "ViT-T-4.pt")
    model = convert_openai_clip_checkpoint(tmp_path / "ViT-T-4.pt", tmp_path / "out", num_frames=FRAMES,
                                           tokenizer=toy_clip_path(), **HEADS)
    assert_matches_clip(model, clip)
    processor = VideoClipProcessor.from_pretrained(tmp_path / "out")
    assert (processor.video_processor.size, processor.video_processor.crop_size) == (16, 16)
    assert processor.video_processor.image_mean == pytest.approx(list(OPENAI_CLIP_MEAN))
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, tmp_path / "ddp.pt")
    viclip_mode = convert_openai_clip_checkpoint(tmp_path / "ddp.pt", temporal_mode="viclip", **HEADS)
    assert not viclip_mode.vision_model.temporal_embedding.any()


def test_openai_clip_refusals_name_the_file(clip, tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "ViT-B-16.pt")
    with pytest.raises(ValueError, match=r"ViT-B-16.pt is a TorchScript archive.*torch.jit.load\(PATH"):
        convert_openai_clip_checkpoint(tmp_path / "ViT-B-16.pt")
    resnet = {"visual.layer1.0.conv1.weight": torch.zeros(2, 2, 1, 1), "token_embedding.weight": torch.zeros(3, 2)}
    torch.save(resnet, tmp_path / "RN50.pt")
    with pytest.raises(ValueError, match=r"RN50.pt: this is a ResNet CLIP"):
        convert_openai_clip_checkpoint(tmp_path / "RN50.pt")
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other.pt has no 'visual.conv1.weight' \(found encoder.weight\)"):
        convert_openai_clip_checkpoint(tmp_path / "other.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"Could not read .*garbage.pt as a PyTorch checkpoint"):
        convert_openai_clip_checkpoint(tmp_path / "garbage.pt")


class Unpicklable:
    """Stands for any class a checkpoint pickles (argparse.Namespace, a model object, ...)."""

    def __init__(self, value):
        self.value = value


def test_a_file_that_needs_code_execution_is_refused_with_the_re_save_recipe(clip, tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"model_state": {"model." + k: v for k, v in official_layout(clip).items()},
                "args": Unpicklable(3)}, path)
    with pytest.raises(ValueError) as caught:
        convert_pyslowfast_checkpoint(path, **HEADS)
    message = str(caught.value)
    assert "pickled.pth cannot be loaded safely" in message and "arbitrary code" in message
    assert f"{__name__}.Unpicklable" in message and "weights_only=False" in message and "torch.save(" in message


def test_tokenizer_that_does_not_fit_the_text_tower_is_refused(clip, clip_dir, tmp_path):
    config = CLIPConfig(text_config={**TEXT, "vocab_size": 700, "eos_token_id": 699, "bos_token_id": 698},
                        vision_config=VISION, projection_dim=24)
    torch.save(official_layout(CLIPModel(config)), tmp_path / "big_vocab.pt")
    with pytest.raises(ValueError, match=r"does not fit the converted text tower.*end-of-text id is 625"):
        convert_openai_clip_checkpoint(tmp_path / "big_vocab.pt", tmp_path / "out", tokenizer=toy_clip_path(),
                                       hidden_act="quick_gelu", **HEADS)

