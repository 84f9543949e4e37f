import pytest
import torch
import torch.nn.functional as F

from hfvideoclip.text.class_embeddings import class_text_embeddings


class PromptTokenizer:
    """Maps each known prompt to one token id; checks the call convention."""

    def __init__(self, prompts):
        self.index = {prompt: i for i, prompt in enumerate(prompts)}
        self.calls = []

    def __call__(self, prompts, padding=None, truncation=None, return_tensors=None):
        assert padding is True and truncation is True and return_tensors == "pt"
        self.calls.append(list(prompts))
        ids = torch.tensor([[self.index[p]] for p in prompts])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


class TableModel(torch.nn.Module):
    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def get_text_features(self, input_ids, attention_mask=None):
        assert torch.is_grad_enabled() is False
        return self.table[input_ids[:, 0]]


def test_template_average_of_normalised_embeddings():
    templates = ["{}", "a video of {}."]
    prompts = ["run", "a video of run.", "jump", "a video of jump."]
    table = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 1.0]])
    tokenizer = PromptTokenizer(prompts)
    out = class_text_embeddings(TableModel(table), tokenizer, ["run", "jump"], templates)
    unit = F.normalize(table, dim=-1)
    expected = F.normalize(torch.stack([unit[0] + unit[1], unit[2] + unit[3]]), dim=-1)
    assert out.shape == (2, 3) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    # Not the plain average of unnormalised features (the scales differ).
    assert not torch.allclose(out[0], F.normalize(table[0] + table[1], dim=-1))
    batched = class_text_embeddings(TableModel(table), PromptTokenizer(prompts), ["run", "jump"], templates,
                                    batch_size=1)
    torch.testing.assert_close(batched, expected)


def test_batches_prompts_and_rejects_empty():
    prompts = [f"{t}{c}" for c in "abc" for t in ("", "x ")]
    tokenizer = PromptTokenizer(prompts)
    class_text_embeddings(TableModel(torch.randn(6, 4)), tokenizer, list("abc"), ["{}", "x {}"], batch_size=4)
    assert [len(call) for call in tokenizer.calls] == [4, 2]
    with pytest.raises(ValueError, match="class_names"):
        class_text_embeddings(TableModel(torch.randn(6, 4)), tokenizer, [], ["{}"])


def test_accepts_pooler_output():
    class Wrapped(TableModel):
        def get_text_features(self, input_ids, attention_mask=None):
            return type("Out", (), {"pooler_output": super().get_text_features(input_ids, attention_mask)})()

    table = torch.randn(2, 5)
    out = class_text_embeddings(Wrapped(table), PromptTokenizer(["a", "b"]), ["a", "b"], "{}")
    torch.testing.assert_close(out, F.normalize(table, dim=-1))


class EnsembleModel(TableModel):
    """Has `get_class_embeddings` (as VideoClipModel): the function must call it with (C, K, L) prompt batches."""

    def __init__(self, table):
        super().__init__(table)
        self.shapes = []

    def get_class_embeddings(self, input_ids, attention_mask=None):
        assert attention_mask is not None and attention_mask.shape == input_ids.shape
        self.shapes.append(tuple(input_ids.shape))
        return -F.normalize(self.table[input_ids[..., 0]].mean(dim=1), dim=-1)  # distinguishable from the fallback

    def get_text_features(self, input_ids, attention_mask=None):
        raise AssertionError("models with get_class_embeddings are embedded through it")


def test_models_with_get_class_embeddings_are_called_per_class_batch():
    prompts = [f"{t}{c}" for c in "abc" for t in ("", "x ")]
    table = torch.randn(6, 4)
    model = EnsembleModel(table)
    out = class_text_embeddings(model, PromptTokenizer(prompts), list("abc"), ["{}", "x {}"], batch_size=4)
    assert model.shapes == [(2, 2, 1), (1, 2, 1)]  # whole classes, batch_size prompts per forward
    expected = -F.normalize(table.view(3, 2, 4).mean(dim=1), dim=-1)
    torch.testing.assert_close(out, expected)


def test_video_clip_model_and_plain_clip_give_the_same_ensemble(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    from hfvideoclip import VideoClipModel
    from hfvideoclip.toy.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(["a", "video", "of", "red", "blue", "circle", "square", "."])
    text = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                vocab_size=len(tokenizer), max_position_embeddings=16, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8)
    torch.manual_seed(0)
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)).eval()
    video_model = VideoClipModel.from_clip(clip).eval()
    names, templates = ["red circle", "blue square", "red square"], ["a video of {} .", "{}"]
    calls = []
    original = video_model.get_class_embeddings
    video_model.get_class_embeddings = lambda *a, **k: calls.append(1) or original(*a, **k)
    ours = class_text_embeddings(video_model, tokenizer, names, templates)
    plain = class_text_embeddings(clip, tokenizer, names, templates)
    assert calls and ours.shape == (3, 24)
    torch.testing.assert_close(ours, plain, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # by hand, one prompt at a time (no padding)
        rows = []
        for name in names:
            feats = [clip.get_text_features(**tokenizer([t.format(name)], return_tensors="pt")).pooler_output[0]
                     for t in templates]
            rows.append(F.normalize(torch.stack([F.normalize(f, dim=-1) for f in feats]).mean(0), dim=-1))
    torch.testing.assert_close(ours, torch.stack(rows), atol=1e-5, rtol=1e-5)
