"""The protocol registry: register / load / list, unknown names, and the toy protocols registered lazily."""

import subprocess
import sys

import datasets
import pytest

from hfvideoclip import data as hv_data
from hfvideoclip.data import (
    ProtocolData,
    ProtocolSplit,
    available_protocols,
    load_protocol,
    register_protocol,
    unregister_protocol,
)

TOY = ["toy-still", "toy-b2n", "toy-xd", "toy-ooc"]


def tiny_dataset(names=("a", "b")):
    features = datasets.Features({"video": datasets.Value("string"), "label": datasets.ClassLabel(names=list(names))})
    return datasets.Dataset.from_dict({"video": ["x.mp4"], "label": [0]}, features=features)


@pytest.fixture
def registered():
    """Registers `test-custom` for one test and removes it afterwards."""
    calls = []

    @register_protocol("test-custom")
    def load_custom(cache_dir=None, **params):
        calls.append((cache_dir, params))
        return ProtocolData("test-custom", [ProtocolSplit("s1", None, {"test": tiny_dataset()})],
                            params=params, metric_columns=("shape",), group_column="kind")

    yield load_custom, calls
    if "test-custom" in available_protocols():
        unregister_protocol("test-custom")


def test_register_load_and_list_round_trip(registered):
    loader, calls = registered
    assert sorted(available_protocols("toy-*")) == sorted(TOY)  # the toy world's entry points
    assert "test-custom" in available_protocols() and "test-custom" not in available_protocols("toy-*")
    data = load_protocol("test-custom", cache_dir="/somewhere", shots=3)
    assert calls == [("/somewhere", {"shots": 3})]
    assert data.name == "test-custom" and data.params == {"shots": 3}
    assert data.metric_columns == ("shape",) and data.group_column == "kind"
    assert register_protocol("test-custom", loader) is loader  # the same loader again is fine

    with pytest.raises(ValueError, match="already registered"):
        register_protocol("test-custom", lambda cache_dir=None: None)
    register_protocol("test-custom", lambda cache_dir=None, **params: "not a protocol", overwrite=True)
    with pytest.raises(TypeError, match="must return a hfvideoclip.data.ProtocolData"):
        load_protocol("test-custom")
    unregister_protocol("test-custom")
    assert "test-custom" not in available_protocols()
    with pytest.raises(KeyError, match="toy-b2n"):
        unregister_protocol("test-custom")


def test_unknown_name_lists_the_registered_protocols(registered):
    with pytest.raises(ValueError) as error:
        load_protocol("kinetics-9000")
    message = str(error.value)
    assert "Unknown protocol 'kinetics-9000'" in message
    for name in TOY + ["test-custom"]:
        assert name in message
    assert "--validation_dir" in message  # points to the own-data route
    with pytest.raises(ValueError, match="'all'"):
        register_protocol("all", lambda cache_dir=None: None)


def test_toy_protocols_load_through_the_registry(tmp_path):
    from hfvideoclip import toy

    params = {"train_per_class": 1, "test_per_class": 1, "num_workers": 1, "num_frames": 4, "size": 32}
    data = load_protocol("toy-ooc", cache_dir=tmp_path, **params)
    direct = toy.load_protocol("toy-ooc", cache_dir=tmp_path, **params)  # same cache entry, no regeneration
    assert isinstance(data, ProtocolData) and data.root == direct.root
    assert data.metric_columns == ("colour", "shape", "motion") and data.group_column == "motion_kind"
    assert data.splits[0].eval["test"]["video"] == direct.splits[0].eval["test"]["video"]
    assert toy.ProtocolData is ProtocolData and toy.ProtocolSplit is ProtocolSplit  # re-exports
    assert hv_data.load_protocol is load_protocol
    with pytest.raises(ValueError, match="shotz"):  # parameters reach the toy loader
        load_protocol("toy-b2n", cache_dir=tmp_path, shotz=3)


def test_importing_data_registers_toy_protocols_without_importing_them():
    code = ("import sys, hfvideoclip.data as d; print(d.available_protocols('toy-*')); "
            "print('hfvideoclip.toy' in sys.modules, 'datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert sorted(eval(out[0])) == sorted(TOY)  # listed through the hfvideoclip.protocols entry points
    assert out[1] == "False False"
