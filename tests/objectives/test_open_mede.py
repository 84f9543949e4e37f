import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from hfvideoclip.methods.open_mede.loss import (
    INNER_LEARNING_RATE,
    OUTER_LEARNING_RATE,
    QUERY_WEIGHT,
    GaussianRunningAverage,
    assign_gradients,
    default_gaussian_mu,
    default_gaussian_sigma,
    first_order_meta_step,
    gaussian_weights,
)

# --------------------------------------------------------------------------------------------- Gaussian weights


def test_paper_constants():
    assert INNER_LEARNING_RATE == OUTER_LEARNING_RATE == 3.33e-6
    assert QUERY_WEIGHT == 1.67e-3


def test_gaussian_weights_match_the_density_and_sum_to_one():
    w = gaussian_weights(7, mu=3.0, sigma=1.5)
    assert w.shape == (7,)
    density = np.array([math.exp(-((t - 3.0) ** 2) / (2 * 1.5**2)) / (math.sqrt(2 * math.pi) * 1.5)
                        for t in range(1, 8)])
    np.testing.assert_allclose(w.numpy(), density / density.sum(), rtol=1e-12)
    assert w.sum().item() == pytest.approx(1.0)
    assert int(w.argmax()) == 2  # t = 3


def test_gaussian_weight_defaults_are_centred_and_symmetric():
    assert default_gaussian_mu(20) == 10.5 and default_gaussian_sigma(20) == 5.0
    w = gaussian_weights(20).numpy()
    np.testing.assert_allclose(w, w[::-1], rtol=1e-12)
    # the peak snapshots t = 10, 11 are 0.5 away from mu, the first one 9.5
    assert w[0] / w.max() == pytest.approx(math.exp(-(9.5**2 - 0.5**2) / (2 * 25)), rel=1e-9)
    w3 = gaussian_weights(3).numpy()
    assert w3[0] / w3[1] == pytest.approx(math.exp(-1 / (2 * 0.75**2)), rel=1e-9)
    assert gaussian_weights(1).tolist() == [1.0]


def test_gaussian_weights_survive_narrow_far_gaussians_and_reject_bad_input():
    w = gaussian_weights(5, mu=100.0, sigma=0.1)  # densities underflow; normalisation must not divide 0 by 0
    assert torch.isfinite(w).all() and w.sum().item() == pytest.approx(1.0) and int(w.argmax()) == 4
    with pytest.raises(ValueError):
        gaussian_weights(0)
    with pytest.raises(ValueError):
        gaussian_weights(3, sigma=0.0)


def _random_states(num, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"a": torch.randn(3, 2, generator=g), "b.weight": torch.randn(4, generator=g)} for _ in range(num)]


def test_running_formula_13_equals_direct_weighted_average():
    states = _random_states(5)
    mu, sigma = 2.0, 1.2
    gwa = GaussianRunningAverage(5, mu=mu, sigma=sigma, dtype=torch.float64)
    # eq. (13) written out by hand, with the raw (unnormalised) densities w_t
    w = [math.exp(-((t - mu) ** 2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma) for t in range(1, 6)]
    manual = None
    for t, state in enumerate(states, start=1):
        gwa.update(state)
        prev_sum, cur_sum = sum(w[: t - 1]), sum(w[:t])
        arr = {k: v.double().numpy() for k, v in state.items()}
        manual = arr if manual is None else {k: prev_sum / cur_sum * manual[k] + w[t - 1] / cur_sum * arr[k]
                                             for k in arr}
        for k in arr:
            np.testing.assert_allclose(gwa.average[k].numpy(), manual[k], rtol=1e-12)
    alphas = gaussian_weights(5, mu, sigma).numpy()
    for k in ("a", "b.weight"):
        direct = sum(alphas[t] * states[t][k].double().numpy() for t in range(5))
        np.testing.assert_allclose(gwa.average[k].numpy(), direct, rtol=1e-10)
    with pytest.raises(ValueError, match="already averaged"):
        gwa.update(states[0])


def test_gaussian_running_average_defaults_to_cpu_float32():
    gwa = GaussianRunningAverage(2)
    gwa.update({"x": torch.ones(2, dtype=torch.bfloat16)})
    assert gwa.average["x"].dtype == torch.float32 and gwa.average["x"].device.type == "cpu"
    with pytest.raises(ValueError, match="weight comes from the Gaussian"):
        gwa.update({"x": torch.ones(2)}, weight=1.0)


# --------------------------------------------------------------------------------------------- meta step


class TwoParam(nn.Module):
    """L(w) = (w1 * x - y)^2 + w2^2 + w3 * x with w3 frozen and a buffer that must pass through."""

    def __init__(self, w1, w2, w3):
        super().__init__()
        self.w1 = nn.Parameter(torch.tensor(w1, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.tensor(w2, dtype=torch.float64))
        self.w3 = nn.Parameter(torch.tensor(w3, dtype=torch.float64), requires_grad=False)
        self.register_buffer("offset", torch.tensor(0.0, dtype=torch.float64))

    def forward(self, x, y):
        return (self.w1 * x - y) ** 2 + self.w2**2 + self.w3 * x + self.offset


def _functional_loss(module):
    def loss_fn(params_and_buffers, batch):
        return functional_call(module, params_and_buffers, batch)

    return loss_fn


def test_first_order_meta_step_matches_hand_derivation():
    w1, w2, w3 = 0.7, -1.3, 5.0
    xs, ys, xq, yq = 2.0, 1.0, -1.5, 0.5
    alpha, delta = 0.1, 0.3
    model = TwoParam(w1, w2, w3)
    out = first_order_meta_step(model, _functional_loss(model), (torch.tensor(xs), torch.tensor(ys)),
                                (torch.tensor(xq), torch.tensor(yq)), alpha=alpha, delta=delta)
    # dL/dw1 = 2 x (w1 x - y), dL/dw2 = 2 w2
    gs1, gs2 = 2 * xs * (w1 * xs - ys), 2 * w2
    f1, f2 = w1 - alpha * gs1, w2 - alpha * gs2
    gq1, gq2 = 2 * xq * (f1 * xq - yq), 2 * f2
    assert set(out.gradients) == {"w1", "w2"}  # frozen w3 gets nothing
    assert out.gradients["w1"].item() == pytest.approx(gs1 + delta * gq1, rel=1e-12)
    assert out.gradients["w2"].item() == pytest.approx(gs2 + delta * gq2, rel=1e-12)
    assert out.support_loss.item() == pytest.approx((w1 * xs - ys) ** 2 + w2**2 + w3 * xs, rel=1e-12)
    assert out.query_loss.item() == pytest.approx((f1 * xq - yq) ** 2 + f2**2 + w3 * xq, rel=1e-12)
    # the module itself is untouched and no .grad was written
    assert model.w1.item() == w1 and model.w2.item() == w2
    assert model.w1.grad is None and model.w2.grad is None

    # applying the step: theta <- theta - beta * (g_S + delta g_Q)
    beta = 0.05
    assign_gradients(model, out.gradients)
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=beta).step()
    assert model.w1.item() == pytest.approx(w1 - beta * (gs1 + delta * gq1), rel=1e-12)
    assert model.w2.item() == pytest.approx(w2 - beta * (gs2 + delta * gq2), rel=1e-12)
    assert model.w3.item() == w3


def test_meta_step_on_a_lora_like_module_equals_explicit_copy_and_step():
    torch.manual_seed(0)

    class LoraLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = nn.Linear(6, 3)
            self.base.requires_grad_(False)
            self.lora_a = nn.Parameter(torch.randn(2, 6) * 0.1)
            self.lora_b = nn.Parameter(torch.randn(3, 2) * 0.1)

        def forward(self, x, y):
            pred = self.base(x) + x @ self.lora_a.t() @ self.lora_b.t()
            return nn.functional.cross_entropy(pred, y)

    model = LoraLinear()
    support = (torch.randn(8, 6), torch.randint(0, 3, (8,)))
    query = (torch.randn(8, 6), torch.randint(0, 3, (8,)))
    alpha, delta = 0.5, 0.2
    grads = first_order_meta_step(model, _functional_loss(model), support, query, alpha=alpha, delta=delta).gradients
    assert set(grads) == {"lora_a", "lora_b"}

    # reference: a real copy updated with plain SGD, gradients through .backward()
    ref = copy.deepcopy(model)
    ref(*support).backward()
    g_s = {n: p.grad.clone() for n, p in ref.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for p in ref.parameters():
            if p.requires_grad:
                p -= alpha * p.grad
                p.grad = None
    ref(*query).backward()
    for n, p in ref.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(grads[n], g_s[n] + delta * p.grad)


def test_meta_step_errors():
    frozen = TwoParam(1.0, 1.0, 1.0).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        first_order_meta_step(frozen, _functional_loss(frozen), (torch.tensor(1.0),) * 2, (torch.tensor(1.0),) * 2)
    model = TwoParam(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="does not depend"):
        first_order_meta_step(model, lambda params, batch: torch.tensor(1.0), None, None)
    with pytest.raises(ValueError, match="no parameter named"):
        assign_gradients(model, {"nope": torch.tensor(1.0)})


def test_assign_gradients_accumulates_or_replaces():
    model = TwoParam(1.0, 1.0, 1.0)
    assign_gradients(model, {"w1": torch.tensor(2.0)})
    assign_gradients(model, {"w1": torch.tensor(3.0)})
    assert model.w1.grad.item() == 5.0
    assign_gradients(model, {"w1": torch.tensor(1.0)}, accumulate=False)
    assert model.w1.grad.item() == 1.0


def test_meta_step_with_a_loss_scale_returns_scaled_gradients_and_true_fast_weights():
    """fp16 loss scaling: the gradients are those of scale * L (the optimizer step unscales them), while the fast
    weights still take the true inner step theta - alpha * g_S."""
    w1, w2, w3 = 0.7, -1.3, 5.0
    batches = ((torch.tensor(2.0), torch.tensor(1.0)), (torch.tensor(-1.5), torch.tensor(0.5)))
    plain_model, scaled_model = TwoParam(w1, w2, w3), TwoParam(w1, w2, w3)
    plain = first_order_meta_step(plain_model, _functional_loss(plain_model), *batches, alpha=0.1, delta=0.3)
    scaled = first_order_meta_step(scaled_model, _functional_loss(scaled_model), *batches, alpha=0.1, delta=0.3,
                                   loss_scale=1024.0)
    for name in ("w1", "w2"):
        assert scaled.gradients[name].item() == pytest.approx(1024.0 * plain.gradients[name].item(), rel=1e-12)
    assert scaled.query_loss.item() == pytest.approx(plain.query_loss.item(), rel=1e-12)
