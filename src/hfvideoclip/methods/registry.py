"""The method registry: trainer, recipes, CLI, presets and model cards look methods up here by name."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, is_dataclass

from .base import MethodConfig, Objective


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its objective and config classes and its preset YAML (or None)."""

    name: str
    objective_class: type[Objective]
    config_class: type[MethodConfig]
    preset: str | None = None


_METHODS: dict[str, MethodSpec] = {}


def register_method(name: str, objective_class: type[Objective] | None = None,
                    config_class: type[MethodConfig] | None = None, *, preset: str | os.PathLike | None = None,
                    overwrite: bool = False):
    """Register a method under `name`. Also a class decorator: `@register_method("mine")` on an `Objective`
    subclass (its `config_class` attribute names the config). `preset` is a YAML file of flag defaults."""
    if objective_class is None:
        def decorator(cls: type[Objective]) -> type[Objective]:
            register_method(name, cls, config_class, preset=preset, overwrite=overwrite)
            return cls
        return decorator
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Method name {name!r} must be an identifier such as 'my_method' (it becomes a flag value).")
    if not (isinstance(objective_class, type) and issubclass(objective_class, Objective)):
        raise TypeError(f"register_method({name!r}): {objective_class!r} is not a subclass of "
                        "hfvideoclip.methods.Objective.")
    config_class = config_class or objective_class.config_class
    if not (is_dataclass(config_class) and issubclass(config_class, MethodConfig)):
        raise TypeError(f"register_method({name!r}): the config class {config_class!r} must be a dataclass "
                        "subclassing hfvideoclip.methods.MethodConfig.")
    _check_no_shared_flag(name, config_class)
    if name in _METHODS and not overwrite and _METHODS[name].objective_class is not objective_class:
        raise ValueError(f"A method named {name!r} is already registered ({_METHODS[name].objective_class.__name__}); "
                         "pick another name or pass overwrite=True.")
    _METHODS[name] = MethodSpec(name, objective_class, config_class, None if preset is None else os.fspath(preset))
    return objective_class


def _check_no_shared_flag(name: str, config_class: type) -> None:
    from ..training.arguments import VideoClipTrainingArguments

    shared = {f.name for f in fields(VideoClipTrainingArguments)}
    clash = sorted(f.name for f in fields(config_class) if f.name in shared)
    if clash:
        raise ValueError(f"Method {name!r}: config fields {clash} are already flags of VideoClipTrainingArguments; "
                         "rename them in the method's config.")


def get_method(name: str) -> MethodSpec:
    """The registered `MethodSpec` of `name`."""
    if name not in _METHODS:
        raise ValueError(f"--method {name!r} is not available; choose one of {', '.join(available_methods())} "
                         "(or register yours with hfvideoclip.methods.register_method).")
    return _METHODS[name]


def available_methods() -> list[str]:
    """Names of the registered methods, in registration order."""
    return list(_METHODS)


__all__ = ["MethodSpec", "available_methods", "get_method", "register_method"]
