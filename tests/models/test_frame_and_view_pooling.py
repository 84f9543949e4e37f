"""Video-level pooling held to the official code (issue 24, item 1).

FROSTER `slowfast/models/temporalclip_video_model.py` (`TemporalClipVideo.forward`, training and eval branches,
around L255): frames are encoded as a batch of images, each frame embedding is L2-normalised, scored against the
normalised class matrix, then `pred.reshape(bz, clip_len, -1).mean(1)`: per-frame logits averaged. Open-VCLIP's model
file is the same. ViFi-CLIP (`trainers/vificlip.py`) averages the frame features first and scores the cosine.
Views: ViFi-CLIP and OST `validate` (`main.py` / `main_nce.py`) sum `output.softmax(dim=-1)` over views; SlowFast's
test meter (Open-VCLIP, FROSTER `tools/test_net.py`) sums the views' logits.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPModel

from hfvideoclip import VideoClipConfig, VideoClipModel
from hfvideoclip.models.video_clip import combine_view_logits

TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=99,
            max_position_embeddings=16, bos_token_id=97, eos_token_id=98, pad_token_id=0)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=30,
              patch_size=2)
FRAMES = 4


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip")
    CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=24)).save_pretrained(path)
    return path


def _inputs(batch=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randn(batch, FRAMES, 3, 30, 30, generator=g)
    ids = torch.randint(1, 97, (5, 7), generator=g)
    ids[:, 0], ids[:, -1] = 97, 98
    labels = torch.randint(0, 5, (batch,), generator=g)
    return pixels, ids, labels


def _official_frame_logits_loss(model, pixels, ids, labels):
    """FROSTER / Open-VCLIP: `img_encode /= norm`; `pred = s * img_encode @ csf.T`; `pred.reshape(bz, T, -1).mean(1)`."""
    frames = model.get_frame_features(pixels)  # (B, T, D) projected frame tokens
    bz, clip_len, dim = frames.shape
    img_encode = frames.reshape(bz * clip_len, dim)
    img_encode = img_encode / img_encode.norm(dim=-1, keepdim=True)
    csf = model.get_text_features(ids)
    csf = csf / csf.norm(dim=-1, keepdim=True)
    pred = model.logit_scale.exp() * img_encode @ csf.T
    pred = pred.reshape(bz, clip_len, -1).mean(1)
    return pred, F.cross_entropy(pred, labels)


def _vifi_feature_mean_loss(model, pixels, ids, labels):
    """ViFi-CLIP: `image_features.mean(dim=1)`, both normalised, `logit_scale.exp() * image @ text.t()`."""
    video = model.get_frame_features(pixels).mean(dim=1)
    video = video / video.norm(dim=-1, keepdim=True)
    text = model.get_text_features(ids)
    text = text / text.norm(dim=-1, keepdim=True)
    pred = model.logit_scale.exp() * video @ text.t()
    return pred, F.cross_entropy(pred, labels)


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("temporal_mode", ["vclip", "mean"])
def test_logits_pooling_gives_the_official_loss_and_gradients(clip_dir, temporal_mode):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode=temporal_mode, num_frames=FRAMES, frame_pooling="logits")
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))
    pixels, ids, labels = _inputs()
    ours = model(input_ids=ids, pixel_values_videos=pixels, labels=labels)
    ours.loss.backward()
    got = _grads(model)
    model.zero_grad(set_to_none=True)
    pred, loss = _official_frame_logits_loss(model, pixels, ids, labels)
    loss.backward()
    want = _grads(model)
    torch.testing.assert_close(ours.logits_per_video, pred, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours.loss, loss, atol=1e-6, rtol=1e-6)
    assert set(got) == set(want)
    for name in want:
        scale = max(1.0, want[name].abs().max().item())  # float32 rounding grows with the gradient (56 for the
        torch.testing.assert_close(got[name], want[name], atol=1e-5 * scale, rtol=1e-4, msg=name)  # embeddings)
    # The frame-mean cosine (the old vclip scoring) is a different loss: the comparison can fail.
    model.config.frame_pooling = "features"
    assert not torch.allclose(model(input_ids=ids, pixel_values_videos=pixels, labels=labels).loss, loss, atol=1e-4)


def test_features_pooling_is_vificlips_frame_mean_cosine(clip_dir):
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES)
    assert model.config.frame_pooling == "features"
    pixels, ids, labels = _inputs(seed=3)
    ours = model(input_ids=ids, pixel_values_videos=pixels, labels=labels)
    pred, loss = _vifi_feature_mean_loss(model, pixels, ids, labels)
    torch.testing.assert_close(ours.logits_per_video, pred, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours.loss, loss, atol=1e-6, rtol=1e-6)


def test_defaults_saved_settings_and_errors(clip_dir, tmp_path):
    assert VideoClipConfig(temporal_mode="vclip").frame_pooling == "logits"
    assert VideoClipConfig(temporal_mode="vclip").view_pooling == "logits"
    for mode in ("mean", "viclip"):
        config = VideoClipConfig(temporal_mode=mode)
        assert (config.frame_pooling, config.view_pooling) == ("features", "probabilities")
    model = VideoClipModel.from_clip(clip_dir, temporal_mode="mean", num_frames=FRAMES, frame_pooling="logits",
                                     view_pooling="logits")
    model.save_pretrained(tmp_path)
    loaded = VideoClipModel.from_pretrained(tmp_path)
    assert (loaded.config.frame_pooling, loaded.config.view_pooling) == ("logits", "logits")
    with pytest.raises(ValueError, match="frame_pooling"):
        VideoClipConfig(frame_pooling="max")
    with pytest.raises(ValueError, match="view_pooling"):
        VideoClipConfig(view_pooling="vote")


def test_combine_view_logits_follows_each_official_test_script():
    g = torch.Generator().manual_seed(0)
    view_logits = torch.randn(64, 3, 10, generator=g) * 8  # 64 videos, 3 views, 10 classes
    # SlowFast's TestMeter (ensemble_method "sum"): video_preds += preds over views, preds being logits here.
    summed_logits = view_logits.sum(dim=1)
    # ViFi-CLIP / OST validate: tot_similarity += output.softmax(dim=-1) over views.
    summed_probabilities = view_logits.softmax(dim=-1).sum(dim=1)
    by_logits = combine_view_logits(view_logits, "logits")
    by_probabilities = combine_view_logits(view_logits, "probabilities")
    torch.testing.assert_close(by_probabilities, summed_probabilities / 3)
    torch.testing.assert_close(by_logits, (summed_logits / 3).softmax(dim=-1))
    assert torch.equal(by_logits.argmax(-1), summed_logits.argmax(-1))
    assert torch.equal(by_probabilities.argmax(-1), summed_probabilities.argmax(-1))
    assert not torch.equal(by_logits.argmax(-1), by_probabilities.argmax(-1))  # the choice changes decisions
    torch.testing.assert_close(by_probabilities.sum(-1), torch.ones(64))
    with pytest.raises(ValueError, match="view_pooling"):
        combine_view_logits(view_logits, "max")
