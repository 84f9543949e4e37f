import math

import numpy as np
import pytest
import torch

from hfvideoclip.methods.taco.loss import (
    DEFAULT_TEMPERATURE,
    EMA_MOMENTUM,
    NUM_ANCHORS,
    RSD_WEIGHT,
    SpecializationProjection,
    default_temperature,
    relative_structure_distillation,
    relative_structure_scores,
    sample_anchors,
)


def _np_normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _np_rsd(sv, sw, tv, tw, z, tau):
    """Explicit-loop reference of TACO eq. (3), batch mean of KL(teacher || student)."""
    sv, sw, tv, tw = (_np_normalize(x.astype(np.float64)) for x in (sv, sw, tv, tw))
    z = z.astype(np.float64)
    B, N, M = sv.shape[0], sw.shape[0], z.shape[0]

    def scores(v, w):
        s = np.zeros((B, N))
        for b in range(B):
            for n in range(N):
                s[b, n] = sum((v[b] @ z[m]) * (z[m] @ w[n]) for m in range(M)) / tau
        return s

    def softmax(s):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p_t, p_s = softmax(scores(tv, tw)), softmax(scores(sv, sw))
    total = 0.0
    for b in range(B):
        for n in range(N):
            total += p_t[b, n] * (math.log(p_t[b, n]) - math.log(p_s[b, n]))
    return total / B


def test_constants():
    assert RSD_WEIGHT == 0.4 and NUM_ANCHORS == 200 and EMA_MOMENTUM == 0.9998
    # tau = (M + kappa) / (D * scale), kappa = 0.025 * scale^2: 250 at CLIP's scale 100
    assert default_temperature(200, 512) == pytest.approx((200 + 250) / 512 / 100) == pytest.approx(0.0087890625)
    assert DEFAULT_TEMPERATURE == pytest.approx(0.0087890625)
    assert default_temperature(200, 768, logit_scale=50.0) == pytest.approx((200 + 0.025 * 50**2) / 768 / 50)
    assert default_temperature(200, 768, logit_scale=50.0, noise_ratio=0.0) == pytest.approx(200 / 768 / 50)
    with pytest.raises(ValueError):
        default_temperature(0, 512)
    with pytest.raises(ValueError, match="noise_ratio"):
        default_temperature(200, 512, noise_ratio=-0.1)


def test_sample_anchors_reproducible_and_unit_norm():
    a = sample_anchors(200, 32, generator=torch.Generator().manual_seed(7))
    b = sample_anchors(200, 32, generator=torch.Generator().manual_seed(7))
    c = sample_anchors(200, 32, generator=torch.Generator().manual_seed(8))
    assert a.shape == (200, 32) and a.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    torch.testing.assert_close(a.norm(dim=-1), torch.ones(200))
    half = sample_anchors(10, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    assert half.dtype == torch.float64
    torch.testing.assert_close(half.float(), sample_anchors(10, 8, generator=torch.Generator().manual_seed(7)))


def test_anchor_gram_matrix_is_about_m_over_d_identity():
    z = sample_anchors(4000, 16, generator=torch.Generator().manual_seed(0))
    gram = z.t() @ z
    torch.testing.assert_close(gram, torch.eye(16) * 4000 / 16, atol=25.0, rtol=0)


def test_default_temperature_is_clip_logit_scale_softened_for_anchor_noise():
    g = torch.Generator().manual_seed(0)
    m, d = 200, 64
    v, w = torch.randn(1, d, generator=g), torch.randn(1, d, generator=g)
    w = w + 2 * v  # a clearly positive cosine
    cos = torch.nn.functional.cosine_similarity(v, w).item()
    # noise_ratio=0 (the old rule, (M/D)/scale) puts the mean anchor score on CLIP's logit scale...
    tau = default_temperature(m, d, noise_ratio=0.0)
    draws = [relative_structure_scores(v, w, sample_anchors(m, d, generator=g), tau).item() for _ in range(200)]
    assert np.mean(draws) == pytest.approx(100 * cos, rel=0.1)
    # ...and the default divides it by the noise shrinkage 1 + kappa / M, which depends on M and the scale, not D
    for dim in (16, 512, 768):
        assert default_temperature(m, dim) == pytest.approx(default_temperature(m, dim, noise_ratio=0.0) * (1 + 250 / m))
    assert default_temperature(800, 512) / default_temperature(800, 512, noise_ratio=0.0) == pytest.approx(1.3125)
    assert default_temperature(200, 64, 18.9) / default_temperature(200, 64, 18.9, noise_ratio=0.0) < 1.05


def _clip_like_geometry(dim=512, num_classes=400, batch=64, seed=0):
    """CLIP-like embeddings as in benchmarks/measure_taco_temperature.py ("K400-like"): texts in a cone (text-text
    cosine ~0.72), video-text cosine ~0.29 for the true class and ~0.19 +- 0.034 for the others."""
    g = torch.Generator().manual_seed(seed)
    n = torch.nn.functional.normalize
    basis, _ = torch.linalg.qr(torch.randn(dim, 34, generator=g))
    mu_t, mu_perp, semantic = basis[:, 0], basis[:, 1], basis[:, 2:]
    mu_v = 0.31 * mu_t + math.sqrt(1 - 0.31**2) * mu_perp
    e = n(0.954 * n(torch.randn(num_classes, 32, generator=g), dim=-1) @ semantic.t()
          + 0.3 * n(torch.randn(num_classes, dim, generator=g), dim=-1), dim=-1)
    texts = n(0.85 * mu_t + math.sqrt(1 - 0.85**2) * e, dim=-1)
    labels = torch.randint(num_classes, (batch,), generator=g)
    videos = n(0.75 * mu_v + 0.2 * e[labels] + 0.3 * n(torch.randn(batch, 32, generator=g), dim=-1) @ semantic.t()
               + 0.59 * n(torch.randn(batch, dim, generator=g), dim=-1), dim=-1)
    return videos, texts, labels


def test_default_temperature_makes_rsd_targets_faithful_to_the_models_class_distribution():
    """What the default is chosen for: with M = 200 anchors the anchor scores are noisy, and the RSD target
    softmax(v Z^T Z W^T / tau) should lose as little of the model's own softmax(scale * cos) as any tau can.
    The old rule (M/D)/scale is ~1.4 nats further from it (KL(clip || rsd) ~3.4 against ~2.0)."""
    videos, texts, labels = _clip_like_geometry()
    scale, m, d = 100.0, 200, videos.shape[-1]
    cos = videos @ texts.t()
    assert 0.25 < cos[torch.arange(len(labels)), labels].mean() < 0.33 and 0.17 < cos.mean() < 0.21
    clip_log_p = torch.log_softmax(scale * cos, dim=-1)
    g = torch.Generator().manual_seed(1)
    scores = torch.stack([relative_structure_scores(videos, texts, sample_anchors(m, d, generator=g), 1.0)
                          for _ in range(8)])

    def kl_clip_rsd(tau):
        log_q = torch.log_softmax(scores / tau, dim=-1)
        return (clip_log_p.exp() * (clip_log_p - log_q)).sum(-1).mean().item()

    old = (m / d) / scale
    best = min(kl_clip_rsd(c * old) for c in np.geomspace(0.5, 8, 25))
    default = kl_clip_rsd(default_temperature(m, d, scale))
    assert default < best + 0.1
    assert kl_clip_rsd(old) > default + 1.0


def test_rsd_matches_explicit_loops():
    g = torch.Generator().manual_seed(1)
    sv, sw, tv, tw = (torch.randn(s, 12, generator=g) for s in (3, 5, 3, 5))
    z = sample_anchors(20, 12, generator=g)
    for tau in (0.05, 0.5):
        got = relative_structure_distillation(sv, sw, tv, tw, z, tau)
        expected = _np_rsd(sv.numpy(), sw.numpy(), tv.numpy(), tw.numpy(), z.numpy(), tau)
        assert got.item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_rsd_zero_for_identical_student_and_positive_otherwise():
    g = torch.Generator().manual_seed(2)
    v, w = torch.randn(4, 16, generator=g), torch.randn(6, 16, generator=g)
    z = sample_anchors(50, 16, generator=g)
    assert relative_structure_distillation(v, w, v.clone(), w.clone(), z, 0.1).item() == pytest.approx(0, abs=1e-6)
    # scaling embeddings does not matter (they are L2-normalised)
    assert relative_structure_distillation(3 * v, w, v, 2 * w, z, 0.1).item() == pytest.approx(0, abs=1e-6)
    perturbed = v + 0.5 * torch.randn(4, 16, generator=g)
    assert relative_structure_distillation(perturbed, w, v, w, z, 0.1).item() > 1e-4


def test_rsd_with_identity_anchors_is_kl_of_plain_similarities():
    g = torch.Generator().manual_seed(3)
    d, tau = 8, 0.2
    sv, sw, tv, tw = (torch.randn(s, d, generator=g) for s in (2, 4, 2, 4))
    got = relative_structure_distillation(sv, sw, tv, tw, torch.eye(d), tau)
    n = torch.nn.functional.normalize
    p_t = torch.softmax(n(tv, dim=-1) @ n(tw, dim=-1).t() / tau, dim=-1).double().numpy()
    p_s = torch.softmax(n(sv, dim=-1) @ n(sw, dim=-1).t() / tau, dim=-1).double().numpy()
    expected = float(np.sum(p_t * (np.log(p_t) - np.log(p_s))) / 2)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_rsd_gradients_flow_to_student_only():
    g = torch.Generator().manual_seed(4)
    sv, sw, tv, tw = (torch.randn(s, 8, generator=g).requires_grad_() for s in (3, 4, 3, 4))
    relative_structure_distillation(sv, sw, tv, tw, sample_anchors(10, 8, generator=g), 0.1).backward()
    assert sv.grad.abs().sum() > 0 and sw.grad.abs().sum() > 0
    assert tv.grad is None and tw.grad is None


def test_rsd_default_temperature_and_effect_of_temperature():
    g = torch.Generator().manual_seed(5)
    v, w = torch.randn(4, 32, generator=g), torch.randn(6, 32, generator=g)
    z = sample_anchors(200, 32, generator=g)
    student = v + 0.3 * torch.randn(4, 32, generator=g)
    auto = relative_structure_distillation(student, w, v, w, z)
    explicit = relative_structure_distillation(student, w, v, w, z, default_temperature(200, 32))
    assert auto.item() == pytest.approx(explicit.item())
    # a much softer temperature makes both distributions nearly uniform: the regulariser almost vanishes
    soft = relative_structure_distillation(student, w, v, w, z, 100 * default_temperature(200, 32))
    assert soft.item() < 0.05 * auto.item()


def test_rsd_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        relative_structure_distillation(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4),
                                        torch.eye(4), 0.1)
    with pytest.raises(ValueError, match="anchors"):
        relative_structure_distillation(torch.randn(2, 4), torch.randn(3, 4), torch.randn(2, 4), torch.randn(3, 4),
                                        torch.eye(5), 0.1)


def test_specialization_projection_starts_as_identity_and_learns():
    torch.manual_seed(0)
    proj = SpecializationProjection(8)
    assert proj.down.bias is None and proj.up.bias is None
    v = torch.randn(5, 8)
    torch.testing.assert_close(proj(v), v)
    down0 = proj.down.weight.detach().clone()
    opt = torch.optim.SGD(proj.parameters(), lr=0.1)
    target = torch.randn(5, 8)

    def step():
        opt.zero_grad()
        ((proj(v) - target) ** 2).mean().backward()
        opt.step()

    step()
    assert torch.count_nonzero(proj.up.weight) > 0  # the zero-initialised layer moved at the first step
    assert not torch.allclose(proj(v), v)
    step()
    assert not torch.allclose(proj.down.weight, down0)  # and the other one from the second step on


def test_both_layers_zero_would_never_learn():
    """The reason for the LoRA-style init: with both layers at zero every gradient vanishes."""
    proj = SpecializationProjection(4)
    with torch.no_grad():
        proj.down.weight.zero_()
    ((proj(torch.randn(3, 4)) - torch.randn(3, 4)) ** 2).sum().backward()
    assert proj.down.weight.grad.abs().sum() == 0 and proj.up.weight.grad.abs().sum() == 0


def test_specialization_projection_with_bias_is_still_identity():
    proj = SpecializationProjection(6, hidden_dim=3, bias=True)
    v = torch.randn(2, 4, 6)
    torch.testing.assert_close(proj(v), v)
    assert proj.down.weight.shape == (3, 6)


def test_ema_update_follows_the_formula_copies_buffers_and_checks_shapes():
    from hfvideoclip.methods.taco.loss import ema_update_

    torch.manual_seed(0)
    student = torch.nn.BatchNorm1d(3)
    student.weight.data.uniform_()
    student.running_mean.fill_(5.0)
    teacher = torch.nn.BatchNorm1d(3)
    teacher.weight.data.uniform_()
    before = teacher.weight.detach().clone()
    assert ema_update_(teacher, student, 0.75) == 2  # weight and bias
    np.testing.assert_allclose(teacher.weight.detach().numpy(),
                               (0.75 * before + 0.25 * student.weight.detach()).numpy(), rtol=1e-6)
    assert torch.equal(teacher.running_mean, student.running_mean)  # buffers are copied
    frozen = teacher.weight.detach().clone()
    ema_update_(teacher, student, 1.0)
    assert torch.equal(teacher.weight, frozen)
    with pytest.raises(ValueError, match="shape"):
        ema_update_(torch.nn.BatchNorm1d(4), student, 0.5)
    with pytest.raises(ValueError, match="momentum"):
        ema_update_(teacher, student, 1.5)
