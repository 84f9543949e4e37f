"""The shipped presets (package data) and accelerate configs parse, and every preset field is a real flag."""

from dataclasses import asdict
from pathlib import Path

import pytest
import yaml
from testing_common import built_in_methods

from hfvideoclip.methods import get_method
from hfvideoclip.training.presets import available_presets
from hfvideoclip.training.recipe import parse_args

ROOT = Path(__file__).resolve().parents[2]
@pytest.mark.parametrize("method", built_in_methods())
def test_every_builtin_method_has_a_packaged_preset_that_parses(method, tmp_path):
    spec = get_method(method)
    assert spec.preset is not None and Path(spec.preset) == Path(spec.folder) / "preset.yaml"
    assert "site-packages" in spec.preset or "src/hfvideoclip" in spec.preset  # inside the package, not recipes/
    preset = yaml.safe_load(Path(spec.preset).read_text())
    assert preset["method"] == method
    assert preset["save_strategy"] == "steps" and preset["save_total_limit"] == 2  # presets checkpoint
    parsed = parse_args(["--method", method, "--output_dir", str(tmp_path)])
    resolved = {**parsed.training.to_dict(), **asdict(parsed.method)}
    for key, value in preset.items():
        got = resolved[key]
        if key == "report_to":  # TrainingArguments normalises "none" to []
            assert got in ([], ["none"], "none")
            continue
        assert (got.value if hasattr(got, "value") else got) == value, key
        assert parsed.sources[key] == ("command line" if key == "method" else "preset")


def test_presets_are_package_data():
    """pyproject ships *.yaml inside the package, so a non-editable install carries them."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["*"]
    assert "*.yaml" in patterns
    assert set(built_in_methods()) <= set(available_presets())
    assert not (ROOT / "recipes" / "configs").exists()  # one place for presets


def test_missing_preset_of_a_registered_method_is_an_error(tmp_path):
    from hfvideoclip.methods import CrossEntropyObjective, register_method

    class Orphan(CrossEntropyObjective):
        pass

    register_method("orphan_preset", Orphan, preset=tmp_path / "nowhere.yaml")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        parse_args(["--method", "orphan_preset", "--output_dir", str(tmp_path)])


@pytest.mark.parametrize("path", sorted((ROOT / "recipes" / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_load(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))
    assert config.num_processes >= 2 and str(config.distributed_type).split(".")[-1] in {
        "MULTI_GPU", "FSDP", "DEEPSPEED"}
