import numpy as np
import pytest
import torch

from hfvideoclip.methods.common.weight_averaging import (
    RunningAverage,
    UniformAverage,
    average_state_dicts,
    weight_space_ensemble,
)


def _states(num, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [{"w": torch.randn(3, 4, generator=g).to(dtype), "pos": torch.arange(4)} for _ in range(num)]


def test_average_state_dicts_weighted_and_uniform():
    states = _states(3)
    arr = [s["w"].double().numpy() for s in states]
    uniform = average_state_dicts(states)
    np.testing.assert_allclose(uniform["w"].numpy(), (arr[0] + arr[1] + arr[2]) / 3, rtol=1e-5)
    weighted = average_state_dicts(states, [1.0, 2.0, 5.0])
    np.testing.assert_allclose(weighted["w"].numpy(), (arr[0] + 2 * arr[1] + 5 * arr[2]) / 8, rtol=1e-5)
    torch.testing.assert_close(weighted["pos"], torch.arange(4))
    weighted_tensor = average_state_dicts(states, torch.tensor([1.0, 2.0, 5.0]))
    torch.testing.assert_close(weighted_tensor["w"], weighted["w"])


def test_average_keeps_dtype_and_accumulates_in_float32():
    states = _states(2, dtype=torch.bfloat16)
    out = average_state_dicts(states)
    assert out["w"].dtype == torch.bfloat16
    expected = (states[0]["w"].float() + states[1]["w"].float()) / 2
    torch.testing.assert_close(out["w"], expected.to(torch.bfloat16))


def test_average_errors():
    a, b = _states(2)
    with pytest.raises(ValueError, match="same keys"):
        average_state_dicts([a, {"w": b["w"]}])
    with pytest.raises(ValueError, match="one weight per"):
        average_state_dicts([a, b], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        average_state_dicts([a, b], [1.0, -1.0])
    b["pos"] = torch.arange(4) + 1
    with pytest.raises(ValueError, match="non-floating"):
        average_state_dicts([a, b])
    with pytest.raises(ValueError):
        average_state_dicts([])


def test_weight_space_ensemble():
    a, b = {"w": torch.tensor([1.0, 1.0])}, {"w": torch.tensor([0.0, 2.0])}
    np.testing.assert_allclose(weight_space_ensemble(a, b, 0.25)["w"].numpy(), [0.25, 1.75])
    torch.testing.assert_close(weight_space_ensemble(a, b, 1.0)["w"], a["w"])
    torch.testing.assert_close(weight_space_ensemble(a, b, 0.0)["w"], b["w"])
    with pytest.raises(ValueError):
        weight_space_ensemble(a, b, 1.5)


def test_uniform_average_is_the_running_mean():
    states = _states(4, seed=1)
    avg = UniformAverage(dtype=torch.float64)
    for k, state in enumerate(states, start=1):
        avg.update(state)
        mean = np.mean([s["w"].double().numpy() for s in states[:k]], axis=0)
        np.testing.assert_allclose(avg.average["w"].numpy(), mean, rtol=1e-12)
    assert avg.num_updates == 4 and avg.weight_sum == 4.0
    with pytest.raises(ValueError):
        avg.update(states[0], weight=2.0)


def test_running_average_weighted_and_key_check_and_reload():
    states = _states(3, seed=2)
    avg = RunningAverage()
    for w, state in zip([0.5, 0.0, 2.0], states):
        avg.update(state, w)
    expected = (0.5 * states[0]["w"].double() + 2.0 * states[2]["w"].double()) / 2.5
    np.testing.assert_allclose(avg.average["w"].numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="keys differ"):
        avg.update({"w": states[0]["w"]}, 1.0)
    other = RunningAverage()
    other.load(avg.state_dict(), avg.weight_sum, avg.num_updates)
    torch.testing.assert_close(other.average["w"], avg.average["w"])
    avg.update(states[0], 1.0)
    other.update(states[0], 1.0)
    torch.testing.assert_close(other.average["w"], avg.average["w"])
