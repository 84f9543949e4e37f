"""OST descriptor tables: `descriptors.json` in a model folder, `{"<class name>": {"spatial": [...], "temporal":
[...]}}`. Pure Python (ships with saved models: the pipeline reads the table next to the weights)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DESCRIPTOR_TABLE_FILE = "descriptors.json"
KINDS = ("spatial", "temporal")


def load_descriptor_table(folder: str | os.PathLike | None) -> dict[str, dict[str, list[str]]] | None:
    """The table saved with a model: in its local folder, or in its Hub repository (downloaded or from the cache);
    None when there is none."""
    if not folder:
        return None
    path = os.path.join(str(folder), DESCRIPTOR_TABLE_FILE)
    if os.path.isdir(str(folder)):
        return read_descriptor_table(path) if os.path.isfile(path) else None
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(str(folder), DESCRIPTOR_TABLE_FILE)
    except Exception:  # not a repository id, no such file, offline without it in the cache
        return None
    return read_descriptor_table(path)


def read_descriptor_table(path: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """A `{"<class name>": {"spatial": [...], "temporal": [...]}}` JSON file; errors name the file and the class."""
    if not os.path.isfile(str(path)):
        raise FileNotFoundError(f"Descriptor table {str(path)!r} not found; pass a JSON file mapping each class name "
                                'to {"spatial": [...], "temporal": [...]} (a trained OST folder\'s descriptors.json).')
    try:
        content = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it should map class names to "
                         '{"spatial": [...], "temporal": [...]}.') from None
    if not isinstance(content, dict):
        raise ValueError(f"{path} holds a {type(content).__name__}; it should map class names to "
                         '{"spatial": [...], "temporal": [...]}.')
    for name, entry in content.items():
        if not isinstance(entry, dict) or any(not isinstance(entry.get(kind), list) or not entry[kind]
                                              for kind in KINDS):
            raise ValueError(f"{path}: class {name!r} needs non-empty 'spatial' and 'temporal' lists; got {entry!r}.")
    return content


__all__ = ["DESCRIPTOR_TABLE_FILE", "KINDS", "load_descriptor_table", "read_descriptor_table"]
