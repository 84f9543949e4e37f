"""The package is layered: every import of a subpackage (or top-level module) of hfvideoclip, at module level or
inside a function, goes to a lower layer of the order written at the top of docs/architecture.md. So there is no
cycle between packages, and a reader can learn the package bottom-up. Imports under `if TYPE_CHECKING:` never run
and are not counted."""

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

import hfvideoclip

ROOT = Path(hfvideoclip.__file__).parent
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def unit(dotted: str) -> str:
    """`hfvideoclip.data.toy.render` -> `data`; a name of `hfvideoclip/__init__.py` -> `__init__`."""
    name = (dotted.split(".") + ["__init__"])[1]
    return name if (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file() else "__init__"


def _imports(node, typing_only=False):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)) and not typing_only:
            yield child
        inner = typing_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
        yield from _imports(child, inner)


def package_edges() -> dict[str, dict[str, list[str]]]:
    """importer unit -> imported unit -> ["file:line", ...] for every import that runs (module or function level)."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1] + ("__init__",)
        me = unit(".".join(parts))
        package = parts[:-1]
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package[: len(package) - node.level + 1] if node.level else ()
                module = ".".join(base + ((node.module,) if node.module else ()))
                targets = [f"{module}.{alias.name}" for alias in node.names]
            for target in targets:
                if (target == "hfvideoclip" or target.startswith("hfvideoclip.")) and unit(target) != me:
                    edges[me][unit(target)].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return edges


def documented_layers() -> dict[str, int]:
    """unit -> layer, from the `layer N: a, b` lines of the first code block of docs/architecture.md."""
    block = re.search(r"```\n(.*?)```", DOC.read_text(), re.S).group(1)
    layers = {}
    for number, names in re.findall(r"^layer (\d+): (.+)$", block, re.M):
        for name in names.split(","):
            layers[name.strip()] = int(number)
    return layers


def test_every_unit_of_the_package_has_a_documented_layer():
    units = {unit(f"hfvideoclip.{p.stem if p.is_file() else p.name}") for p in ROOT.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert units == set(documented_layers()), "update the layer order at the top of docs/architecture.md"


def test_every_import_goes_to_a_lower_layer():
    layers = documented_layers()
    upward = [f"{a} (layer {layers[a]}) imports {b} (layer {layers[b]}) at {', '.join(where)}"
              for a, targets in package_edges().items() for b, where in targets.items() if layers[b] >= layers[a]]
    assert not upward, "\n".join(upward)


def test_the_check_sees_function_level_imports(tmp_path, monkeypatch):
    """The graph counts an import inside a function, and skips one under TYPE_CHECKING (the test can fail)."""
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..training import x\n"
              "def f():\n    from ..cli import main\n")
    found = [node for node in _imports(ast.parse(source)) if isinstance(node, ast.ImportFrom)]
    assert [node.module for node in found] == ["typing", "cli"]


@pytest.mark.parametrize("name", ["models", "data", "methods", "training"])
def test_known_units_sit_in_order(name):
    layers = documented_layers()
    assert layers["models"] < layers["data"] < layers["methods"] < layers["training"] < layers["cli"]
    assert name in layers
