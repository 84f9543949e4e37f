"""Presets: YAML files of flag defaults, shipped in each method's folder (`hfvideoclip/methods/<method>/`).

`preset.yaml` (the toy-world preset of `--method <method>`) sets backbone, adaptation, the method's paper
hyperparameters and the toy-world optimiser scale; `presets/<setting>.yaml` are the papers' recipes
(`--preset <method>/<setting>`, docs/reproduction.md). Every command-line flag overrides them; `--config FILE`
replaces the method's preset.
"""

from __future__ import annotations

import os

import yaml

from ..methods import available_methods, get_method


def available_presets() -> list[str]:
    """Names of the shipped presets: the toy presets `<method>` and the paper presets `<method>/<setting>`."""
    return sorted(name for name in available_methods() if get_method(name).preset) + paper_presets()


def paper_presets(method: str | None = None) -> list[str]:
    """Names `<method>/<setting>` of the paper presets (the papers' recipes, docs/reproduction.md), of one method
    or of all registered methods."""
    methods = [method] if method else sorted(available_methods())
    return [f"{name}/{setting}" for name in methods for setting in get_method(name).paper_presets]


def paper_preset_path(name: str) -> str:
    """The YAML of paper preset `name` (`taco/k400`); a one-line error naming the shipped ones otherwise."""
    method, _, setting = name.partition("/")
    if method in available_methods() and setting in get_method(method).paper_presets:
        return get_method(method).paper_presets[setting]
    raise ValueError(f"--preset {name!r} is not a shipped paper preset; choose one of: {', '.join(paper_presets())} "
                     "(or pass your own YAML with --config).")


def read_preset(path: str | os.PathLike) -> dict:
    """The flag -> value mapping of a preset YAML; a clear error for a missing or malformed file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Preset file {path} does not exist; pass an existing --config YAML (or reinstall "
                                "hfvideoclip if a shipped preset is missing).")
    with open(path) as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping of flag names to values, got {type(data).__name__}.")
    return data


__all__ = ["available_presets", "paper_preset_path", "paper_presets", "read_preset"]
