"""Presets: YAML files of flag defaults per method, shipped in the package (`hfvideoclip/training/presets/`).

A preset sets backbone, adaptation, the method's paper hyperparameters and the toy-world optimiser scale; every
command-line flag overrides it. The registered method names its preset (`MethodSpec.preset`); `--config FILE`
replaces it.
"""

from __future__ import annotations

import os
from importlib import resources

import yaml


def preset_directory() -> str:
    """The folder of the shipped presets inside the installed package."""
    return str(resources.files("hfvideoclip.training").joinpath("presets"))


def available_presets() -> list[str]:
    """Names of the shipped presets (without `.yaml`): the toy presets `<method>` and the paper presets
    `<method>/<setting>` (`presets/<method>/<setting>.yaml`, see `paper_presets`)."""
    return sorted(name[:-5] for name in os.listdir(preset_directory()) if name.endswith(".yaml")) + paper_presets()


def paper_presets(method: str | None = None) -> list[str]:
    """Names `<method>/<setting>` of the shipped paper presets (the papers' recipes, docs/reproduction.md), of one
    method or of all."""
    root = preset_directory()
    methods = [method] if method else sorted(name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name)))
    return [f"{folder}/{name[:-5]}" for folder in methods if os.path.isdir(os.path.join(root, folder))
            for name in sorted(os.listdir(os.path.join(root, folder))) if name.endswith(".yaml")]


def paper_preset_path(name: str) -> str:
    """The YAML of paper preset `name` (`taco/k400`); a one-line error naming the shipped ones otherwise."""
    if name in paper_presets():
        return os.path.join(preset_directory(), *name.split("/")) + ".yaml"
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


__all__ = ["available_presets", "paper_preset_path", "paper_presets", "preset_directory", "read_preset"]
