"""The method registry: trainer, recipes, CLI, presets and model cards look methods up here by name.

A method is a folder (a Python package) found by convention, `register_method_folder(package)`:

    <name>/__init__.py     re-exports the objective
    <name>/objective.py    the `MethodConfig` dataclass and exactly one `Objective` subclass
    <name>/loss.py         the pure loss maths (optional)
    <name>/preset.yaml     flag defaults of `--method <name>` (optional)
    <name>/presets/*.yaml  the paper's recipes, `--preset <name>/<setting>` (optional)
    <name>/card.md         the model-card template, extending `_base.md` (optional; `generic.md` otherwise)

The built-in methods are the folders of `hfvideoclip.methods` (`discover_methods`). Installed packages add methods
through the entry-point group `hfvideoclip.methods`: each entry point's name is the method name and its object an
`Objective` subclass (`my_ce = "my_plugin:MyObjective"`) or a method folder's package (`my_ce = "my_plugin.my_ce"`).
They are loaded the first time the registry is listed or a name is not found; a plug-in that fails to load is
skipped with one warning line.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil
from dataclasses import dataclass, is_dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

from .base import MethodConfig, Objective


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its objective and config classes, its preset YAML (or None), and its folder (the
    directory of its objective's module: `card.md` and `presets/` are looked up there)."""

    name: str
    objective_class: type[Objective]
    config_class: type[MethodConfig]
    preset: str | None = None
    folder: str | None = None

    @property
    def card_template(self) -> str | None:
        """`<folder>/card.md`, the method's model-card template, or None (the generic template applies)."""
        return _file_in(self.folder, "card.md")

    @property
    def paper_presets(self) -> dict[str, str]:
        """`{setting: path}` of the YAML files in `<folder>/presets/` (the paper's recipes)."""
        directory = Path(self.folder, "presets") if self.folder else None
        if directory is None or not directory.is_dir():
            return {}
        return {path.stem: str(path) for path in sorted(directory.glob("*.yaml"))}


def _file_in(folder: str | None, name: str) -> str | None:
    return str(Path(folder, name)) if folder and Path(folder, name).is_file() else None


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
    if name in _METHODS and not overwrite and _METHODS[name].objective_class is not objective_class:
        raise ValueError(f"A method named {name!r} is already registered ({_METHODS[name].objective_class.__name__}); "
                         "pick another name or pass overwrite=True.")
    folder = str(Path(inspect.getfile(objective_class)).parent)
    if preset is None:
        preset = _file_in(folder, "preset.yaml") if _is_method_folder(folder) else None
    _METHODS[name] = MethodSpec(name, objective_class, config_class, None if preset is None else os.fspath(preset),
                                folder if _is_method_folder(folder) else None)
    return objective_class


def _is_method_folder(folder: str) -> bool:
    return Path(folder, "objective.py").is_file()


def _folder_objective(package: ModuleType) -> type[Objective]:
    """The one `Objective` subclass defined in `<package>.objective`; a clear error for none or several."""
    module = importlib.import_module(f"{package.__name__}.objective")
    found = [value for value in vars(module).values() if isinstance(value, type) and issubclass(value, Objective)
             and value.__module__ == module.__name__]
    if len(found) != 1:
        raise TypeError(f"{module.__file__}: a method folder's objective.py must define exactly one Objective "
                        f"subclass; found {len(found)} ({', '.join(c.__name__ for c in found) or 'none'}).")
    return found[0]


def register_method_folder(package: ModuleType | str, name: str | None = None, overwrite: bool = False) -> MethodSpec:
    """Register the method folder `package` (a package or its dotted name holding `objective.py`) under `name`
    (default: the folder's name); its `preset.yaml`, `presets/` and `card.md` are found by convention."""
    if isinstance(package, str):
        package = importlib.import_module(package)
    folder = Path(package.__file__).parent
    if not _is_method_folder(str(folder)):
        raise ValueError(f"{folder} is not a method folder: it needs an objective.py defining an Objective subclass.")
    name = name or package.__name__.rsplit(".", 1)[-1]
    register_method(name, _folder_objective(package), overwrite=overwrite)
    return _METHODS[name]


def discover_methods(package: ModuleType | str) -> list[str]:
    """Register every method folder (sub-package with an `objective.py`) of `package`, in name order; returns
    their names. The built-in methods are `discover_methods("hfvideoclip.methods")`."""
    if isinstance(package, str):
        package = importlib.import_module(package)
    names = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.ispkg and _is_method_folder(os.path.join(os.path.dirname(package.__file__), info.name)):
            register_method_folder(f"{package.__name__}.{info.name}")
            names.append(info.name)
    return names


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
            if isinstance(objective, ModuleType):  # a method folder
                register_method_folder(objective, entry_point.name)
                continue
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


__all__ = ["ENTRY_POINT_GROUP", "MethodSpec", "available_methods", "discover_methods", "get_method", "load_plugins",
           "register_method", "register_method_folder"]
