"""The method registry: trainer, recipes, CLI, presets and model cards look methods up here by name.

Installed packages add methods through the entry-point group `hfvideoclip.methods`: each entry point's name is the
method name and its object an `Objective` subclass (`my_ce = "my_plugin:MyObjective"`). They are loaded the first
time the registry is listed or a name is not found; a plug-in that fails to load is skipped with one warning line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields, is_dataclass
from importlib import metadata

from .base import MethodConfig, Objective


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its objective and config classes and its preset YAML (or None)."""

    name: str
    objective_class: type[Objective]
    config_class: type[MethodConfig]
    preset: str | None = None


_METHODS: dict[str, MethodSpec] = {}
ENTRY_POINT_GROUP = "hfvideoclip.methods"
_plugins_loaded = False

logger = logging.getLogger(__name__)


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


def load_plugins(reload: bool = False) -> None:
    """Register the methods of the installed `hfvideoclip.methods` entry points (once; again with `reload=True`).

    An entry point that fails to import or register is skipped with one warning line naming its distribution and
    the error; the other methods stay available."""
    global _plugins_loaded
    if _plugins_loaded and not reload:
        return
    _plugins_loaded = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            objective = entry_point.load()
            known = _METHODS.get(entry_point.name)
            if known is None or known.objective_class is not objective:  # keep a preset the module registered
                register_method(entry_point.name, objective)
        except Exception as error:  # noqa: BLE001 - a broken plug-in must not break the other methods
            dist = getattr(entry_point.dist, "name", None) or "an unknown distribution"
            message = (str(error).splitlines() or [""])[0]
            logger.warning("Skipping method plug-in %r of %s (%s): %s: %s", entry_point.name, dist,
                           entry_point.value, type(error).__name__, message)


def get_method(name: str) -> MethodSpec:
    """The registered `MethodSpec` of `name` (an installed plug-in's included)."""
    if name not in _METHODS:
        load_plugins()
    if name not in _METHODS:
        raise ValueError(f"--method {name!r} is not available; choose one of {', '.join(available_methods())} "
                         "(or register yours with hfvideoclip.methods.register_method).")
    return _METHODS[name]


def available_methods() -> list[str]:
    """Names of the registered methods, in registration order (installed plug-ins' after the built-in ones)."""
    load_plugins()
    return list(_METHODS)


__all__ = ["ENTRY_POINT_GROUP", "MethodSpec", "available_methods", "get_method", "load_plugins", "register_method"]
