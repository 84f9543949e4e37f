"""Evaluation protocols: the `ProtocolData` container and a registry of named protocol loaders.

```python
from hfvideoclip.data import available_protocols, load_protocol, register_protocol

available_protocols()                  # ["toy-still", "toy-b2n", "toy-xd", "toy-ooc", ...]
available_protocols("toy-*")           # fnmatch pattern
data = load_protocol("toy-b2n", cache_dir=None, shots=4)   # -> ProtocolData

@register_protocol("my-protocol")
def load_mine(cache_dir=None, **params) -> ProtocolData: ...
```
A protocol is splits of (training set or None, named evaluation sets). Every dataset has a ``video`` column of
file paths and a ``label`` `datasets.ClassLabel` whose ``names`` are the natural-language class names (the
vocabulary). Eval sets named ``base`` and ``novel`` give base-to-novel metrics, one set (or ``test``) plain ones.
The protocol also says which metadata columns give extra metrics (`ProtocolData.metric_columns`,
`ProtocolData.group_column`); the evaluation harness reads them from here.

Installed packages add protocols through the entry-point group ``hfvideoclip.protocols`` (entry-point name = protocol
name, object = its loader), loaded the first time the registry is listed or a name is not found. The toy world's
protocols (``toy-still``, ``toy-b2n``, ``toy-xd``, ``toy-ooc``, `hfvideoclip.toy.protocols`) come that way: this
package does not import the toy world.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

logger = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "hfvideoclip.protocols"
_plugins_loaded = False


@dataclass
class ProtocolSplit:
    """One split: a training set (None for zero-shot protocols) and evaluation sets by key (``base``/``novel``,
    ``test``, ...), all `datasets.Dataset`s."""

    name: str
    train: Any | None
    eval: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProtocolData:
    """A protocol's splits, where its files live, its parameters and its extra metrics.

    Attributes:
        name: the protocol name written to ``results.json``.
        splits: the `ProtocolSplit`s; metrics are averaged over them (``<metric>_std`` across splits).
        root: directory of the protocol's files, if any.
        params: the parameters the protocol was built with.
        metric_columns: metadata columns with one value per class (e.g. ``shape``); each gives ``<column>_top1``,
            how often the top-1 class has the true class's value (the right shape with the wrong motion).
        group_column: a metadata column that groups the videos (e.g. ``motion_kind``); gives ``top1_<group>`` per
            value (``top1_direction_free``, ``top1_direction_pair``).
        partner_classes: class name -> the same action reversed (``"a circle moving left"`` -> ``"a circle moving
            right"``, SSv2's "pushing something from left to right" / "... right to left"); gives
            ``pair_vs_partner``, how often a video of such a class scores above its partner when both are in the
            vocabulary: 0.5 for a model blind to the order of frames.
    """

    name: str
    splits: list[ProtocolSplit]
    root: str | None = None
    params: dict = field(default_factory=dict)
    metric_columns: tuple[str, ...] = ()
    group_column: str | None = None
    partner_classes: dict[str, str] = field(default_factory=dict)


ProtocolLoader = Callable[..., ProtocolData]
"""``loader(cache_dir=None, **params) -> ProtocolData``."""

_REGISTRY: dict[str, ProtocolLoader] = {}


def register_protocol(name: str, loader: ProtocolLoader | None = None, *, overwrite: bool = False):
    """Register ``loader(cache_dir=None, **params) -> ProtocolData`` under ``name``.

    Use as ``register_protocol("name", loader)`` or as a decorator ``@register_protocol("name")``. Registering a
    taken name raises ValueError unless ``overwrite=True``. Returns the loader (the decorator form keeps it).
    """
    if not isinstance(name, str) or not name or name == "all":
        raise ValueError(f"Protocol name {name!r}: use a non-empty string other than 'all' (the command-line "
                         "shortcut for every toy protocol).")

    def decorator(function: ProtocolLoader) -> ProtocolLoader:
        if not callable(function):
            raise TypeError(f"The loader of protocol {name!r} must be callable, got {type(function).__name__}.")
        if name in _REGISTRY and _REGISTRY[name] is not function and not overwrite:
            raise ValueError(f"Protocol {name!r} is already registered; pick another name or pass overwrite=True.")
        _REGISTRY[name] = function
        return function

    return decorator if loader is None else decorator(loader)


def unregister_protocol(name: str) -> None:
    """Remove ``name`` from the registry (KeyError naming the registered protocols if absent)."""
    if name not in _REGISTRY:
        raise KeyError(f"Protocol {name!r} is not registered; registered: {', '.join(available_protocols())}.")
    del _REGISTRY[name]


def available_protocols(pattern: str | None = None) -> list[str]:
    """Registered protocol names in registration order (installed plug-ins' last), optionally filtered by an fnmatch
    ``pattern`` (``"toy-*"``)."""
    load_plugins()
    names = list(_REGISTRY)
    return names if pattern is None else [name for name in names if fnmatch.fnmatchcase(name, pattern)]


def load_protocol(name: str, cache_dir: str | os.PathLike | None = None, **params) -> ProtocolData:
    """Load the registered protocol ``name``: ``loader(cache_dir=cache_dir, **params)``.

    Raises ValueError naming the registered protocols when ``name`` is unknown.
    """
    if name not in _REGISTRY:
        load_plugins()
    loader = _REGISTRY.get(name)
    if loader is None:
        raise ValueError(f"Unknown protocol {name!r}: registered protocols are {', '.join(available_protocols())}. "
                         "Register your own with `hfvideoclip.data.register_protocol(name, loader)`, or evaluate "
                         "your own videos with --dataset_name / --validation_dir / --validation_file.")
    data = loader(cache_dir=cache_dir, **params)
    if not isinstance(data, ProtocolData):
        raise TypeError(f"The loader of protocol {name!r} returned {type(data).__name__}; it must return a "
                        "hfvideoclip.data.ProtocolData.")
    return data


def load_plugins(reload: bool = False) -> None:
    """Register the protocols of the installed ``hfvideoclip.protocols`` entry points (once; again with
    ``reload=True``). One that fails to load is skipped with one warning line naming its distribution."""
    global _plugins_loaded
    if _plugins_loaded and not reload:
        return
    _plugins_loaded = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in _REGISTRY and not reload:
            continue
        try:
            register_protocol(entry_point.name, _entry_point_loader(entry_point), overwrite=reload)
        except Exception as error:  # noqa: BLE001 - a broken plug-in must not break the other protocols
            dist = getattr(entry_point.dist, "name", None) or "an unknown distribution"
            logger.warning("Skipping protocol plug-in %r of %s (%s): %s: %s", entry_point.name, dist,
                           entry_point.value, type(error).__name__, (str(error).splitlines() or [""])[0])


def _entry_point_loader(entry_point) -> ProtocolLoader:
    """A loader that imports the entry point's module only when the protocol is loaded (listing stays light)."""
    def load(cache_dir=None, **params) -> ProtocolData:
        return entry_point.load()(cache_dir=cache_dir, **params)

    load.__name__ = load.__qualname__ = f"load_{entry_point.name.replace('-', '_')}"
    load.entry_point = entry_point
    return load


def loader_description(name: str) -> str:
    """First line of the docstring of protocol `name`'s loader (an entry point's is imported to read it)."""
    loader = _REGISTRY[name]
    target = loader.entry_point.load() if hasattr(loader, "entry_point") else loader
    doc = (getattr(target, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else "(a user-registered protocol)"


__all__ = ["ENTRY_POINT_GROUP", "ProtocolData", "ProtocolLoader", "ProtocolSplit", "available_protocols",
           "load_plugins", "loader_description",
           "load_protocol", "register_protocol", "unregister_protocol"]
