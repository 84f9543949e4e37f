"""The text tower's padding mask is built as a 4-D causal mask without reading its values on the host (no GPU
synchronisation per text forward), and gives transformers' own pooled text features for right, left and no
padding, under SDPA and eager attention."""

import pytest
import torch
from test_modeling_video_clip import clip_dir  # noqa: F401  (the modeling tests' tiny CLIP, saved once per module)
from transformers import CLIPModel

from hfvideoclip import VideoClipModel
from hfvideoclip.models.video_clip.modeling_video_clip import text_attention_mask


def padded_prompts(side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Three prompts of 3, 5 and 7 tokens (BOS ... EOS) padded to length 7 on `side`: with the EOS id on the right
    (as CLIP's tokenizer pads), with the pad id 0 on the left (the pooled EOS must stay the prompt's own)."""
    generator = torch.Generator().manual_seed(3)
    ids = torch.full((3, 7), 98 if side == "right" else 0, dtype=torch.long)
    mask = torch.zeros(3, 7, dtype=torch.long)
    for row, length in enumerate((3, 5, 7)):
        tokens = torch.randint(1, 97, (length,), generator=generator)
        tokens[0], tokens[-1] = 97, 98
        span = slice(0, length) if side == "right" else slice(7 - length, 7)
        ids[row, span], mask[row, span] = tokens, 1
    return ids, mask


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("side", ["right", "left"])
@torch.no_grad()
def test_pooled_text_equals_transformers_mask(clip_dir, implementation, side):  # noqa: F811
    clip = CLIPModel.from_pretrained(clip_dir, attn_implementation=implementation).eval()
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=2).eval()
    model.set_attn_implementation(implementation)
    assert model.text_model.config._attn_implementation == implementation
    ids, mask = padded_prompts(side)
    expected = clip.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    torch.testing.assert_close(model.get_text_features(ids, mask), expected, atol=1e-5, rtol=1e-5)
    unmasked = clip.get_text_features(input_ids=ids).pooler_output
    if side == "left":  # the mask matters here, so the comparison above could fail
        assert not torch.allclose(unmasked, expected, atol=1e-3)


def test_mask_layout_and_values():
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    allowed = text_attention_mask(mask, "sdpa", torch.float32)
    assert allowed.dtype == torch.bool and allowed.shape == (2, 1, 3, 3)
    expected = torch.tensor([[[1, 0, 0], [1, 1, 0], [1, 1, 1]],  # right padding: key 2 is padding, query 2 sees itself
                             [[1, 0, 0], [0, 1, 0], [0, 1, 1]]], dtype=torch.bool)  # left: query 0 sees only itself
    expected[0, 2, 2] = True
    expected[0, 1:, 2] = torch.tensor([False, True])
    assert torch.equal(allowed[:, 0], expected)
    additive = text_attention_mask(mask, "eager", torch.bfloat16)
    assert additive.dtype == torch.bfloat16
    assert torch.equal(additive[:, 0] == 0, expected)
    assert (additive[:, 0][~expected] == torch.finfo(torch.bfloat16).min).all()
    assert text_attention_mask(mask, "flash_attention_2", torch.float32) is mask


class _HostReads(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.__bool__, torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__int__,
                    torch.Tensor.__float__):
            self.count += 1
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def test_class_embeddings_read_no_tensor_values_on_the_host(clip_dir):  # noqa: F811
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=2).eval()
    ids, mask = padded_prompts("right")
    with _HostReads() as reads:
        model.get_class_embeddings(ids.view(3, 1, 7), mask.view(3, 1, 7))
    assert reads.count == 0
    with _HostReads() as reads:  # transformers' own 2-D path reads the mask (the check above can fail)
        model.text_model(input_ids=ids, attention_mask=mask)
    assert reads.count >= 1
