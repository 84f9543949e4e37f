"""OST descriptor tables: `descriptors.json` in a model folder, `{"<class name>": {"spatial": [...], "temporal":
[...]}}`, and `resolve_file`, the optional files of a model folder or Hub repository. Pure Python (ships with saved
models: the pipeline reads the table next to the weights, the processor its settings)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DESCRIPTOR_TABLE_FILE = "descriptors.json"
KINDS = ("spatial", "temporal")


HUB_ARGUMENTS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only", "subfolder")
"""Arguments of `from_pretrained` that say where a model's files come from (as `transformers.utils.cached_file`)."""


def resolve_file(path_or_repo: str | os.PathLike, filename: str, *, cache_dir=None, force_download: bool = False,
                 proxies=None, token=None, revision: str | None = None, local_files_only: bool = False,
                 subfolder: str | None = "") -> str | None:
    """Local path of an optional `filename` of a model folder or Hub repository, or None where there is none.

    As `transformers.utils.cached_file`: `revision`, `token`, `cache_dir`, `local_files_only`, `subfolder`,
    `force_download` and `proxies` are passed through, and offline (`HF_HUB_OFFLINE=1` or `local_files_only`) only
    the cache is read. None: the folder or repository (at `revision`) has no such file, or offline it is not in the
    cache. Raises OSError, naming the repository and the fix, for an unknown repository or revision, no access, or
    a Hub that cannot be reached while online.
    """
    name = os.fspath(path_or_repo)
    if os.path.isdir(name):
        path = os.path.join(name, subfolder or "", filename)
        return path if os.path.isfile(path) else None
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{name!r}" + (f" (revision {revision!r})" if revision else "")
    try:
        return hf_hub_download(name, filename, subfolder=subfolder or None, revision=revision, cache_dir=cache_dir,
                               force_download=force_download, proxies=proxies, token=token,
                               local_files_only=local_files_only)
    except LocalEntryNotFoundError as error:
        if local_files_only or constants.HF_HUB_OFFLINE:
            return None  # offline: what the cache does not hold counts as absent
        raise OSError(f"Could not reach the Hugging Face Hub for {filename} of {where} and it is not in the cache "
                      f"({_one_line(error)}); check the network, or set HF_HUB_OFFLINE=1 to read the cache only."
                      ) from error
    except GatedRepoError as error:
        raise OSError(f"{where} is a gated repository and this token has no access to it: request access on its "
                      "Hub page, then log in (`hf auth login`) or pass token=...") from error
    except RepositoryNotFoundError as error:
        raise OSError(f"{where} is neither a local folder nor a Hub repository you can read: check the name, or log "
                      "in (`hf auth login`) / pass token=... for a private repository.") from error
    except RevisionNotFoundError as error:
        raise OSError(f"Revision {revision!r} does not exist in {name!r}: pass one of its branches, tags or commit "
                      "ids.") from error
    except EntryNotFoundError:
        return None
    except HFValidationError as error:
        raise OSError(f"{name!r} is not a local folder (working directory {os.getcwd()!r}) nor a valid Hub "
                      f"repository id ({_one_line(error)}); check the path.") from error
    except HfHubHTTPError as error:
        raise OSError(f"The Hugging Face Hub refused {filename} of {where}: {_one_line(error)}") from error
    except RuntimeError as error:  # huggingface_hub 1.5 retries a failed connection on a closed httpx client
        if "client has been closed" not in str(error):
            raise
        raise OSError(f"Could not reach the Hugging Face Hub for {filename} of {where} and it is not in the cache "
                      f"({_one_line(error)}); check the network, or set HF_HUB_OFFLINE=1 to read the cache only."
                      ) from error


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def load_descriptor_table(folder: str | os.PathLike | None, **hub_kwargs) -> dict[str, dict[str, list[str]]] | None:
    """The table saved with a model: in its local folder, or in its Hub repository (downloaded or from the cache,
    `hub_kwargs` as `resolve_file`: revision, token, cache_dir, local_files_only, subfolder); None when there is
    none."""
    if not folder:
        return None
    path = resolve_file(folder, DESCRIPTOR_TABLE_FILE, **hub_kwargs)
    return read_descriptor_table(path) if path is not None else None


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


__all__ = ["DESCRIPTOR_TABLE_FILE", "HUB_ARGUMENTS", "KINDS", "load_descriptor_table", "read_descriptor_table",
           "resolve_file"]
