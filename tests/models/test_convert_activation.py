"""Converters never guess: the MLP activation of an OpenAI-layout checkpoint is read from what the file tells (OpenAI's
TorchScript metadata, open_clip's `open_clip_config.json` / run name / config entries) or given, else refused; and
texts longer than a converted text tower's positions (ViCLIP: 32) are cut as ViCLIP cuts them, end-of-text last.

References are computed independently, by tiny `transformers.CLIPModel`s with `hidden_act` "gelu" / "quick_gelu"
whose weights are written out in the official key layout by hand."""

import json

import pytest
import torch
from test_convert_checkpoints import FRAMES, assert_matches_clip, official_layout, text_ids
from transformers import AutoModel, AutoTokenizer, CLIPConfig, CLIPModel

import hfvideoclip  # noqa: F401  (registers the Auto classes)
from hfvideoclip.cli import main as cli_main
from hfvideoclip.convert.checkpoints import (
    convert_openai_clip_checkpoint,
    convert_pyslowfast_checkpoint,
    read_clip_activation,
)
from hfvideoclip.convert.viclip import convert_viclip_checkpoint
from hfvideoclip.models.video_clip.class_banks import class_bank_for
from hfvideoclip.models.video_clip.processing_video_clip import VideoClipProcessor
from hfvideoclip.text.class_embeddings import class_text_embeddings
from hfvideoclip.text.class_texts import ClassTexts
from hfvideoclip.toy import toy_clip_path

# Widths of 64 and 128 give OpenAI's heads = width // 64 (1 and 2), so the command line converts them as they are.
# Vocabulary of the package's toy CLIP tokenizer: eos 625 = vocab - 1, as CLIP's.
TEXT = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=1, vocab_size=626,
            max_position_embeddings=32, bos_token_id=624, eos_token_id=625, pad_token_id=625)
VISION = dict(hidden_size=128, intermediate_size=80, num_hidden_layers=2, num_attention_heads=2, image_size=16,
              patch_size=4)
EOS = 625
OPEN_CLIP_CFG = {"embed_dim": 24, "vision_cfg": {"image_size": 16, "layers": 2, "width": 128, "patch_size": 4},
                 "text_cfg": {"context_length": 32, "vocab_size": 626, "width": 64, "heads": 1, "layers": 2}}
LONG_DESCRIPTION = " ".join(["a red circle moves left on a grey background while a blue square spins"] * 4)  # 60 words


def tiny_clip(hidden_act: str) -> CLIPModel:
    torch.manual_seed(0)  # the same weights for both activations
    model = CLIPModel(CLIPConfig(text_config={**TEXT, "hidden_act": hidden_act},
                                 vision_config={**VISION, "hidden_act": hidden_act}, projection_dim=24)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
        for layer in [*model.vision_model.encoder.layers, *model.text_model.encoder.layers]:
            layer.mlp.fc1.weight.mul_(10)  # MLP inputs of order 1, where GELU and QuickGELU differ clearly
        model.logit_scale.fill_(3.1)
    return model


@pytest.fixture(scope="module")
def gelu_clip():
    return tiny_clip("gelu")


@pytest.fixture(scope="module")
def quick_clip():
    return tiny_clip("quick_gelu")


@pytest.fixture(scope="module")
def tokenizer_77(tmp_path_factory):
    """The toy CLIP tokenizer with CLIP's 77-token limit (as openai/clip-vit-base-patch16's)."""
    path = tmp_path_factory.mktemp("tok77")
    tokenizer = AutoTokenizer.from_pretrained(toy_clip_path())
    tokenizer.model_max_length = 77
    tokenizer.save_pretrained(path)
    return path


def test_the_two_activations_give_different_embeddings(gelu_clip, quick_clip):
    """The premise: converting a GELU model as QuickGELU changes its embeddings (the bug the refusal prevents)."""
    gelu = gelu_clip.get_text_features(input_ids=text_ids()).pooler_output
    quick = quick_clip.get_text_features(input_ids=text_ids()).pooler_output
    assert (gelu - quick).abs().max() > 1e-3  # 100 times the tolerance of the comparisons below


# ------------------------------------------------------------------------------------------------ read from the file
def test_open_clip_hub_folder_is_read_as_gelu_from_its_config(gelu_clip, quick_clip, tmp_path):
    """open_clip's Hub layout: flat `open_clip_pytorch_model.bin` + `open_clip_config.json` without quick_gelu."""
    torch.save(official_layout(gelu_clip), tmp_path / "open_clip_pytorch_model.bin")
    (tmp_path / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": OPEN_CLIP_CFG, "preprocess_cfg": {"mean": [0.48, 0.46, 0.41], "std": [0.27, 0.26, 0.28]}}))
    model = convert_openai_clip_checkpoint(tmp_path / "open_clip_pytorch_model.bin", num_frames=FRAMES)
    assert model.config.vision_config.hidden_act == model.config.text_config.hidden_act == "gelu"
    assert_matches_clip(model, gelu_clip)
    explicit = convert_openai_clip_checkpoint(tmp_path / "open_clip_pytorch_model.bin", num_frames=FRAMES,
                                              hidden_act="gelu")
    assert_matches_clip(explicit, gelu_clip)
    with pytest.raises(ValueError, match=r"hidden_act='quick_gelu' contradicts the checkpoint .*open_clip_config"
                                         r".*quick_gelu=false"):
        convert_openai_clip_checkpoint(tmp_path / "open_clip_pytorch_model.bin", hidden_act="quick_gelu")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {**OPEN_CLIP_CFG, "quick_gelu": True}}))
    torch.save(official_layout(quick_clip), tmp_path / "open_clip_pytorch_model.bin")
    assert_matches_clip(convert_openai_clip_checkpoint(tmp_path / "open_clip_pytorch_model.bin", num_frames=FRAMES),
                        quick_clip)


@pytest.mark.parametrize("told, hidden_act", [
    ({"name": "2024_05_01-10_00_00-model_ViT-T-4-quickgelu-lr_0.0005-b_8-j_2-p_amp"}, "quick_gelu"),
    ({"model_cfg": OPEN_CLIP_CFG}, "gelu"),
    ({"quick_gelu": True}, "quick_gelu"),
])
def test_open_clip_training_checkpoint_entries_tell_the_activation(gelu_clip, quick_clip, tmp_path, told, hidden_act):
    """open_clip's `save_checkpoint` layout `{"epoch", "name", "state_dict" (with `module.`), "optimizer"}`."""
    clip = quick_clip if hidden_act == "quick_gelu" else gelu_clip
    state_dict = {"module." + k: v for k, v in official_layout(clip).items()}
    torch.save({"epoch": 2, "state_dict": state_dict, "optimizer": {"state": {}, "param_groups": []}, **told},
               tmp_path / "epoch_2.pt")
    model = convert_openai_clip_checkpoint(tmp_path / "epoch_2.pt", num_frames=FRAMES)
    assert model.config.text_config.hidden_act == hidden_act
    assert_matches_clip(model, clip)


def test_openai_torchscript_state_dict_is_quick_gelu(quick_clip, tmp_path):
    state_dict = {**official_layout(quick_clip), "input_resolution": torch.tensor(16),
                  "context_length": torch.tensor(32), "vocab_size": torch.tensor(626)}
    torch.save(state_dict, tmp_path / "ViT-T-4.pt")
    assert read_clip_activation(tmp_path / "ViT-T-4.pt", state_dict, state_dict)[0] == "quick_gelu"
    assert_matches_clip(convert_openai_clip_checkpoint(tmp_path / "ViT-T-4.pt", num_frames=FRAMES), quick_clip)
    with pytest.raises(ValueError, match=r"ViT-T-4.pt: hidden_act='gelu' contradicts the checkpoint.*TorchScript"):
        convert_openai_clip_checkpoint(tmp_path / "ViT-T-4.pt", hidden_act="gelu")


# ------------------------------------------------------------------------------------------------ refused or given
@pytest.mark.parametrize("wrap", ["flat", "run_name_without_quickgelu"])
def test_a_checkpoint_that_does_not_tell_needs_hidden_act(gelu_clip, tmp_path, wrap):
    state_dict = official_layout(gelu_clip)
    checkpoint = state_dict if wrap == "flat" else {
        "epoch": 1, "name": "2024_05_01-10_00_00-model_ViT-T-4-lr_0.0005-b_8-j_2-p_amp", "state_dict": state_dict}
    torch.save(checkpoint, tmp_path / "weights.pt")
    with pytest.raises(ValueError) as caught:
        convert_openai_clip_checkpoint(tmp_path / "weights.pt")
    message = str(caught.value)
    assert "\n" not in message and "weights.pt: the MLP activation is not in the tensors" in message
    assert "--hidden_act quick_gelu" in message and "OpenAI's original" in message
    assert "--hidden_act gelu for an open_clip model trained without QuickGELU" in message
    assert_matches_clip(convert_openai_clip_checkpoint(tmp_path / "weights.pt", num_frames=FRAMES,
                                                       hidden_act="gelu"), gelu_clip)
    with pytest.raises(ValueError, match="hidden_act='relu' is not one of quick_gelu, gelu"):
        convert_openai_clip_checkpoint(tmp_path / "weights.pt", hidden_act="relu")


def test_command_line_hidden_act(gelu_clip, tmp_path, capsys):
    torch.save(official_layout(gelu_clip), tmp_path / "weights.pt")
    convert = ["convert", "openai", str(tmp_path / "weights.pt"), str(tmp_path / "out"), "--tokenizer",
               str(toy_clip_path()), "--num_frames", str(FRAMES)]
    assert cli_main(convert) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "weights.pt: the MLP activation" in error and "--hidden_act gelu" in error
    assert cli_main([*convert, "--hidden_act", "gelu"]) == 0
    assert "(mean, gelu)" in capsys.readouterr().out
    assert_matches_clip(AutoModel.from_pretrained(tmp_path / "out").eval(), gelu_clip)
    capsys.readouterr()
    for source in ("froster", "viclip", "clip"):
        assert cli_main(["convert", source, str(tmp_path / "weights.pt"), str(tmp_path / "x"), "--hidden_act",
                         "gelu"]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "--hidden_act applies to `convert openai` only" in error
    with pytest.raises(SystemExit):
        cli_main([*convert, "--hidden_act", "relu"])


def test_sources_built_on_openai_clip_stay_quick_gelu(quick_clip, tmp_path):
    torch.save({"model_state": {"model." + k: v for k, v in official_layout(quick_clip).items()}},
               tmp_path / "swa.pth")
    model = convert_pyslowfast_checkpoint(tmp_path / "swa.pth", temporal_mode="mean", num_frames=FRAMES)
    assert model.config.text_config.hidden_act == "quick_gelu"
    assert_matches_clip(model, quick_clip)
    with pytest.raises(ValueError, match="hidden_act='gelu' does not apply to Open-VCLIP / FROSTER checkpoints"):
        convert_pyslowfast_checkpoint(tmp_path / "swa.pth", hidden_act="gelu")


# ------------------------------------------------------------------------------------------------ ViCLIP text length
def viclip_checkpoint(clip: CLIPModel) -> dict:
    """The original ViCLIP layout (`vision_encoder.*` with a one-frame 3D patch kernel, `text_encoder.*`, `temp`)."""
    model = {}
    for key, tensor in official_layout(clip).items():
        if key.startswith("visual."):
            model["vision_encoder." + key[len("visual."):]] = tensor
        elif key != "logit_scale":
            model["text_encoder." + key] = tensor
    model["vision_encoder.conv1.weight"] = model["vision_encoder.conv1.weight"].unsqueeze(2)
    model["vision_encoder.temporal_positional_embedding"] = torch.zeros(1, FRAMES, VISION["hidden_size"])
    model["temp"] = torch.tensor(0.01)
    return {"model": model}


def viclip_tokenize(tokenizer, text: str, context_length: int) -> list[int]:
    """ViCLIP's `tokenize(texts, context_length, truncate=True)` (InternVideo `Data/InternVid/viclip/viclip_text.py`
    lines 145-155), on the toy vocabulary: [sot] + words + [eot], the first `context_length` kept, eot last."""
    tokens = tokenizer(text, truncation=False)["input_ids"]
    if len(tokens) > context_length:
        tokens = tokens[:context_length]
        tokens[-1] = tokenizer.eos_token_id
    return tokens


@torch.no_grad()
def test_converted_viclip_cuts_long_texts_to_its_32_positions(quick_clip, tokenizer_77, tmp_path, capsys):
    torch.save(viclip_checkpoint(quick_clip), tmp_path / "viclip.pth")
    assert cli_main(["convert", "viclip", str(tmp_path / "viclip.pth"), str(tmp_path / "out"), "--tokenizer",
                     str(tokenizer_77)]) == 0
    model = AutoModel.from_pretrained(tmp_path / "out").eval()
    assert model.config.text_config.max_position_embeddings == 32
    processor = VideoClipProcessor.from_pretrained(tmp_path / "out")
    assert processor.tokenizer.model_max_length == 32
    assert json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["model_max_length"] == 32
    ids = processor(text=[LONG_DESCRIPTION, "a red circle"])["input_ids"]
    assert ids.shape[1] <= 32 and ids[0, -1] == EOS
    assert ids[0].tolist() == viclip_tokenize(processor.tokenizer, LONG_DESCRIPTION, 32)
    features = model.get_text_features(input_ids=ids)  # pools at the end-of-text token (argmax)
    torch.testing.assert_close(features, quick_clip.get_text_features(input_ids=ids).pooler_output,
                               atol=1e-5, rtol=1e-5)
    # Training tokenisation (ClassTexts, as training/builder.py builds it from the saved processor).
    texts = ClassTexts(processor.tokenizer, ["circle", "square"], ["a video of {}."], [LONG_DESCRIPTION, "spins"])
    assert texts.input_ids.shape[-1] <= 32 and texts.bare_input_ids[0, -1] == EOS
    assert model.get_text_features(input_ids=texts.bare_input_ids).shape == (2, 24)


@torch.no_grad()
def test_tokenisers_with_clips_77_limit_are_cut_at_the_text_towers_positions(quick_clip, tokenizer_77, tmp_path):
    """Folders converted before the limit was saved (tokenizer 77, text tower 32), and tokenizers passed by hand."""
    torch.save(viclip_checkpoint(quick_clip), tmp_path / "viclip.pth")
    model = convert_viclip_checkpoint(tmp_path / "viclip.pth", tmp_path / "out").eval()
    AutoTokenizer.from_pretrained(tokenizer_77).save_pretrained(tmp_path / "out")  # the old, 77-token folder
    assert VideoClipProcessor.from_pretrained(tmp_path / "out").tokenizer.model_max_length == 32
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_77)
    assert tokenizer.model_max_length == 77
    names = [LONG_DESCRIPTION, "circle"]
    embeds = class_text_embeddings(model, tokenizer, names, ["a video of {}.", "{}"])  # VideoClipModel's own path
    assert embeds.shape == (2, 24) and torch.isfinite(embeds).all()
    plain = class_text_embeddings(quick_clip, tokenizer, names, ["a video of {}.", "{}"])  # a plain CLIPModel
    torch.testing.assert_close(plain, embeds, atol=1e-5, rtol=1e-5)
    model.config.scoring_head = "optimal_descriptor"
    descriptors = {name: {"spatial": [LONG_DESCRIPTION], "temporal": ["it spins"]} for name in names}
    bank = class_bank_for(model, tokenizer, names, descriptors=descriptors)
    assert torch.isfinite(bank.spatial).all()
