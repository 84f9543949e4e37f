import math

import numpy as np
import pytest
import torch

from hfvideoclip.methods.common.cross_entropy import (
    LOGIT_SCALE_MAX,
    average_template_embeddings,
    classification_loss,
    video_text_logits,
)


def _np_logits(video, text, scale):
    out = np.zeros((video.shape[0], text.shape[0]))
    for i in range(video.shape[0]):
        for j in range(text.shape[0]):
            cos = video[i] @ text[j] / (np.linalg.norm(video[i]) * np.linalg.norm(text[j]))
            out[i, j] = scale * cos
    return out


def test_logits_match_explicit_cosines():
    g = torch.Generator().manual_seed(0)
    video, text = torch.randn(3, 8, generator=g) * 5, torch.randn(4, 8, generator=g) * 0.1
    logit_scale = torch.tensor(math.log(20.0))
    got = video_text_logits(video, text, logit_scale)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got.numpy(), _np_logits(video.double().numpy(), text.double().numpy(), 20.0),
                               rtol=1e-5, atol=1e-5)


def test_logit_scale_is_not_clamped_in_the_graph_and_float_accepted():
    video, text = torch.randn(2, 6), torch.randn(5, 6)
    expected = _np_logits(video.double().numpy(), text.double().numpy(), 1000.0)
    np.testing.assert_allclose(video_text_logits(video, text, torch.tensor(math.log(1000.0))).numpy(), expected,
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(video_text_logits(video, text, math.log(1000.0)).numpy(), expected, rtol=1e-5,
                               atol=1e-3)


def test_logit_scale_has_a_gradient_at_clips_own_value():
    """OpenAI CLIP stores ln(100); a clamp at 100 inside the graph would give it a zero gradient there."""
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(LOGIT_SCALE_MAX)))
    video = torch.randn(4, 6)
    loss = classification_loss(video_text_logits(video, torch.randn(3, 6), logit_scale), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert logit_scale.grad is not None and logit_scale.grad.abs() > 0


def test_logit_scale_receives_gradient_below_the_bound():
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
    video = torch.randn(2, 4, requires_grad=True)
    loss = classification_loss(video_text_logits(video, torch.randn(3, 4), logit_scale), torch.tensor([0, 2]))
    loss.backward()
    assert logit_scale.grad is not None and logit_scale.grad.abs() > 0
    assert video.grad.abs().sum() > 0


def test_dimension_mismatch_raises():
    with pytest.raises(ValueError, match="dimension"):
        video_text_logits(torch.randn(2, 4), torch.randn(3, 5), 0.0)


def test_classification_loss_matches_manual_cross_entropy():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    labels = torch.tensor([1, 2])
    arr = logits.double().numpy()
    manual = np.mean([-(arr[i, labels[i]] - np.log(np.exp(arr[i]).sum())) for i in range(2)])
    assert classification_loss(logits, labels).item() == pytest.approx(manual, rel=1e-6)


def test_average_template_embeddings_normalises_each_prompt_first():
    text = torch.tensor([[[3.0, 0.0], [0.0, 1.0]]])  # one class, two prompts of different norms
    out = average_template_embeddings(text)
    np.testing.assert_allclose(out.numpy(), [[1 / math.sqrt(2), 1 / math.sqrt(2)]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, P, D\)"):
        average_template_embeddings(torch.randn(3, 4))


def test_half_precision_inputs_are_scored_and_averaged_in_float32():
    g = torch.Generator().manual_seed(1)
    video, text = torch.randn(3, 16, generator=g).bfloat16(), torch.randn(5, 16, generator=g).bfloat16()
    logits = video_text_logits(video, text, torch.tensor(math.log(100.0)).bfloat16())
    assert logits.dtype == torch.float32
    # the bfloat16 log-scale rounds to 4.59375: exp = 98.87
    expected = _np_logits(video.double().numpy(), text.double().numpy(), math.exp(4.59375))
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-5, atol=1e-4)
    prompts = torch.randn(4, 3, 16, generator=g)
    averaged = average_template_embeddings(prompts.bfloat16())
    assert averaged.dtype == torch.float32
    torch.testing.assert_close(averaged, average_template_embeddings(prompts.bfloat16().float()))


def test_same_math_as_the_model_scoring_head():
    """cross_entropy is the model file's implementation, not a second one."""
    from hfvideoclip.models.video_clip.modeling_video_clip import VideoClipCosineHead, template_ensemble

    g = torch.Generator().manual_seed(2)
    video, text, scale = torch.randn(3, 8, generator=g), torch.randn(4, 8, generator=g), torch.tensor(2.5)
    torch.testing.assert_close(video_text_logits(video, text, scale), VideoClipCosineHead()(video, text, scale),
                               rtol=0, atol=0)
    prompts = torch.randn(4, 3, 8, generator=g)
    torch.testing.assert_close(average_template_embeddings(prompts), template_ensemble(prompts), rtol=0, atol=0)
