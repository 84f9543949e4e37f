import math

import numpy as np
import pytest
import torch

from hfvideoclip.methods.froster.loss import (
    DEFAULT_DISTILLATION_WEIGHT,
    DEFAULT_RESIDUAL_ALPHA,
    ResidualProjector,
    feature_distillation_loss,
    froster_distillation,
)


def _np_cos_distance(a, b):
    a = a.reshape(-1, a.shape[-1])
    b = b.reshape(-1, b.shape[-1])
    values = [1 - a[i] @ b[i] / (np.linalg.norm(a[i]) * np.linalg.norm(b[i])) for i in range(a.shape[0])]
    return float(np.mean(values))


def _np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _np_projector(z, w1, w2, alpha):
    return z + alpha * (_np_gelu(z @ w1.T) @ w2.T)


def test_constants_follow_the_paper():
    assert DEFAULT_DISTILLATION_WEIGHT == 2.0
    assert DEFAULT_RESIDUAL_ALPHA == 0.1


def test_feature_distillation_loss_matches_direct_formula():
    student = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]], [[0.0, 2.0, 0.0], [-1.0, 0.0, 1.0]]])
    teacher = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 3.0], [1.0, 0.0, -1.0]]])
    # cosines: 1, 1/sqrt(2), 0, -1 -> distances 0, 1 - 1/sqrt(2), 1, 2
    expected = (0 + (1 - 1 / math.sqrt(2)) + 1 + 2) / 4
    got = feature_distillation_loss(student, teacher)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert got.item() == pytest.approx(_np_cos_distance(student.numpy(), teacher.numpy()), rel=1e-6)


def test_feature_distillation_detaches_teacher():
    student = torch.randn(4, 5, requires_grad=True)
    teacher = torch.randn(4, 5, requires_grad=True)
    feature_distillation_loss(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_feature_distillation_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        feature_distillation_loss(torch.randn(2, 3), torch.randn(3, 3))


def test_projector_is_identity_at_init_on_any_leading_shape():
    torch.manual_seed(0)
    proj = ResidualProjector(16)
    assert torch.count_nonzero(proj.proj[2].weight) == 0
    assert torch.count_nonzero(proj.proj[0].weight) > 0
    assert proj.proj[0].bias is None and proj.proj[2].bias is None
    # kaiming (fan_in, gain sqrt(2)): std ~ sqrt(2 / 16)
    assert proj.proj[0].weight.std().item() == pytest.approx(math.sqrt(2 / 16), rel=0.25)
    z = torch.randn(2, 3, 16)
    torch.testing.assert_close(proj(z), z)


def test_zero_init_distillation_equals_plain_cosine_distillation():
    torch.manual_seed(1)
    sf, tf = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    st, tt = torch.randn(5, 8), torch.randn(5, 8)
    out = froster_distillation(sf, tf, st, tt, ResidualProjector(8), ResidualProjector(8))
    vision = _np_cos_distance(sf.numpy(), tf.numpy())
    text = _np_cos_distance(st.numpy(), tt.numpy())
    assert out["vision"].item() == pytest.approx(vision, rel=1e-5)
    assert out["text"].item() == pytest.approx(text, rel=1e-5)
    assert out["total"].item() == pytest.approx(vision + text, rel=1e-5)


def test_distillation_with_trained_projectors_matches_numpy():
    torch.manual_seed(2)
    vp, tp = ResidualProjector(6, alpha=0.1), ResidualProjector(6, alpha=0.3)
    with torch.no_grad():
        vp.proj[2].weight.normal_()
        tp.proj[2].weight.normal_()
    sf, tf = torch.randn(3, 2, 6), torch.randn(3, 2, 6)
    st, tt = torch.randn(4, 6), torch.randn(4, 6)
    out = froster_distillation(sf, tf, st, tt, vp, tp)
    w = {k: v.detach().double().numpy() for k, v in
         {"v1": vp.proj[0].weight, "v2": vp.proj[2].weight, "t1": tp.proj[0].weight, "t2": tp.proj[2].weight}.items()}
    vision = _np_cos_distance(_np_projector(sf.double().numpy(), w["v1"], w["v2"], 0.1), tf.numpy())
    text = _np_cos_distance(_np_projector(st.double().numpy(), w["t1"], w["t2"], 0.3), tt.numpy())
    assert out["vision"].item() == pytest.approx(vision, rel=1e-5)
    assert out["text"].item() == pytest.approx(text, rel=1e-5)


def test_zero_initialised_layer_gets_a_gradient():
    torch.manual_seed(3)
    vp, tp = ResidualProjector(8), ResidualProjector(8)
    sf = torch.randn(2, 3, 8, requires_grad=True)
    out = froster_distillation(sf, torch.randn(2, 3, 8), torch.randn(4, 8), torch.randn(4, 8), vp, tp)
    out["total"].backward()
    assert vp.proj[2].weight.grad.abs().sum() > 0
    assert tp.proj[2].weight.grad.abs().sum() > 0
    assert sf.grad.abs().sum() > 0
