import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.func import functional_call

from hfvideoclip.methods.open_vclip.loss import (
    INTERPOLATION_LOSS_WEIGHT,
    INTERPOLATION_RATIO_HIGH,
    PATCH_ALPHA,
    interpolate_state,
    interpolated_weight_loss,
    patch_weights,
    sample_interpolation_ratio,
)


def test_constants():
    assert INTERPOLATION_LOSS_WEIGHT == 0.5 and INTERPOLATION_RATIO_HIGH == 0.6 and PATCH_ALPHA == 0.5


def test_interpolate_state_formula_and_gradient():
    current = {"w": torch.tensor([1.0, 2.0], requires_grad=True), "ids": torch.tensor([0, 1])}
    anchor = {"w": torch.tensor([3.0, -2.0]), "ids": torch.tensor([0, 1]), "extra": torch.zeros(1)}
    out = interpolate_state(current, anchor, 0.25)
    assert set(out) == {"w", "ids"}
    np.testing.assert_allclose(out["w"].detach().numpy(), 0.25 * np.array([3.0, -2.0]) + 0.75 * np.array([1.0, 2.0]))
    out["w"].sum().backward()
    np.testing.assert_allclose(current["w"].grad.numpy(), [0.75, 0.75])
    with pytest.raises(ValueError, match="no entry"):
        interpolate_state({"missing": torch.zeros(1)}, anchor, 0.5)
    with pytest.raises(ValueError, match="shape"):
        interpolate_state({"w": torch.zeros(3)}, anchor, 0.5)


def test_sample_interpolation_ratio_range_and_reproducibility():
    g = torch.Generator().manual_seed(0)
    draws = [sample_interpolation_ratio(g) for _ in range(500)]
    assert 0.0 <= min(draws) and max(draws) < 0.6 and max(draws) > 0.5
    assert sample_interpolation_ratio(torch.Generator().manual_seed(3)) == sample_interpolation_ratio(
        torch.Generator().manual_seed(3))
    with pytest.raises(ValueError):
        sample_interpolation_ratio(high=1.5)


def test_interpolated_weight_loss_equals_loss_of_interpolated_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[1].requires_grad_(False)
    anchor = {k: v + torch.randn_like(v) for k, v in model.state_dict().items()}
    x, y = torch.randn(5, 4), torch.randint(0, 2, (5,))

    def loss_fn(params, batch):
        return nn.functional.cross_entropy(functional_call(model, params, (batch[0],)), batch[1])

    r = 0.3
    loss = interpolated_weight_loss(model, loss_fn, (x, y), anchor, r, straight_through=False)
    loss.backward()
    ref = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    with torch.no_grad():
        ref[0].weight.copy_(r * anchor["0.weight"] + (1 - r) * model[0].weight)
        ref[0].bias.copy_(r * anchor["0.bias"] + (1 - r) * model[0].bias)
        ref[1].load_state_dict(model[1].state_dict())  # frozen layer is not interpolated
    ref_loss = nn.functional.cross_entropy(ref(x), y)
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-6)
    ref_loss.backward()
    torch.testing.assert_close(model[0].weight.grad, (1 - r) * ref[0].weight.grad)
    assert model[1].weight.grad is None


def test_patch_weights_averages_finetuned_and_zero_shot():
    ft = {"w": torch.tensor([2.0, 4.0])}
    zs = {"w": torch.tensor([0.0, 0.0])}
    np.testing.assert_allclose(patch_weights(ft, zs)["w"].numpy(), [1.0, 2.0])
    np.testing.assert_allclose(patch_weights(ft, zs, alpha=0.8)["w"].numpy(), [1.6, 3.2], rtol=1e-6)


def test_default_gradient_is_the_gradient_at_the_interpolated_weights_as_the_official_code_adds_it():
    """Open-VCLIP's code computes the loss at r * theta_CLIP + (1 - r) * theta and adds its gradient with respect to
    those interpolated weights to theta's gradient, weight 0.5, with the `(1 - r)` chain-rule factor commented out."""
    torch.manual_seed(1)
    model = nn.Linear(4, 3)
    anchor = {k: v + torch.randn_like(v) for k, v in model.state_dict().items()}
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))

    def loss_fn(params, batch):
        return nn.functional.cross_entropy(functional_call(model, params, (batch[0],)), batch[1])

    r = 0.45
    (INTERPOLATION_LOSS_WEIGHT * interpolated_weight_loss(model, loss_fn, (x, y), anchor, r)).backward()
    interpolated = nn.Linear(4, 3)
    with torch.no_grad():  # the official recipe, written out: load the interpolated weights, backward there
        interpolated.weight.copy_(r * anchor["weight"] + (1 - r) * model.weight)
        interpolated.bias.copy_(r * anchor["bias"] + (1 - r) * model.bias)
    nn.functional.cross_entropy(interpolated(x), y).backward()
    torch.testing.assert_close(model.weight.grad, 0.5 * interpolated.weight.grad)
    torch.testing.assert_close(model.bias.grad, 0.5 * interpolated.bias.grad)
    straight = interpolate_state({"w": torch.tensor([1.0, 2.0], requires_grad=True)}, {"w": torch.zeros(2)}, 0.4,
                                 straight_through=True)
    np.testing.assert_allclose(straight["w"].detach().numpy(), [0.6, 1.2], rtol=1e-6)
