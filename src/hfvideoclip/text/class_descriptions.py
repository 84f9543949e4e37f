"""`--class_descriptions`: FROSTER's rephrased class descriptions for any method, matched to a vocabulary by name.

FROSTER (Visual-AI/FROSTER, CC BY-NC-SA 4.0, not shipped) publishes one ``{"0": "Name: description"}`` file per
vocabulary (``label_rephrase/k400_rephrased_classes.json``, ``ucf101_rephrased_classes.json``,
``hmdb_rephrased_classes.json``, ``k600_split{1,2,3}_rephrased_classes.json``; base-to-novel
``zs_label_db/B2N_*/{train,test}_rephrased.json``). `--class_descriptions` takes one such file, a folder holding
them (e.g. the downloaded ``label_rephrase/``) or several paths separated by commas. For each vocabulary the file
that describes every one of its classes is used (the one with the fewest entries when several do: the file written
for that vocabulary; the same class name is described differently for different datasets). Entries are matched by
their name prefix, not by index (FROSTER's HMDB file follows sorted order, its K400 base file another order than
ViFi-CLIP's ids): case, punctuation, spaces and articles are ignored, `NAME_ALIASES` covers spellings, and word
order is the last resort.

Prompts (`description_prompts`) follow the official code: for every template
``template.format(prefix) + " " + entry``, then the bare ``entry``; each embedded, L2-normalised, averaged and
renormalised (`template_ensemble`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .descriptors import _ARTICLES, _froster_split, _name_key, load_descriptions
from .templates import KINETICS_TEMPLATES

logger = logging.getLogger(__name__)

NAME_ALIASES: dict[str, str] = {"barbequing": "barbecuing"}
"""Spellings no normalisation reconciles, as `_name_key` keys: Kinetics-400 ``barbequing`` is FROSTER's
``Barbecuing``."""


@dataclass
class DescriptionFile:
    """One FROSTER-format file: `entries[i]` is the whole ``"Name: description"`` text of index ``i``."""

    path: str
    entries: list[str]

    def lookup(self) -> dict[str, list[int]]:
        """Matching key -> entry indices (`description_key` of each entry's name prefix)."""
        keys: dict[str, list[int]] = {}
        for index, entry in enumerate(self.entries):
            keys.setdefault(description_key(_froster_split(entry)[0]), []).append(index)
        return keys

    def match(self, class_names: Sequence[str]) -> tuple[list[str | None], list[str]]:
        """(the entry of every class or None, the classes without one). Exact key first, then word order."""
        exact = self.lookup()
        by_words: dict[str, list[int]] = {}
        for index, entry in enumerate(self.entries):
            by_words.setdefault(_word_set_key(_froster_split(entry)[0]), []).append(index)
        found: list[str | None] = []
        for name in class_names:
            hits = exact.get(description_key(name)) or by_words.get(_word_set_key(name)) or []
            found.append(self.entries[hits[0]] if len(hits) == 1 else None)
        return found, [name for name, entry in zip(class_names, found) if entry is None]


def description_key(name: str) -> str:
    """Lower-case words of `name` without articles, punctuation or spaces, then `NAME_ALIASES`:
    ``"Driving a car"`` and ``"driving car"`` -> ``drivingcar``."""
    key = _name_key(name)
    return NAME_ALIASES.get(key, key)


def _word_set_key(name: str) -> str:
    """The word-order-insensitive key: sorted words without articles (``"Skiing cross-country"`` ~
    ``"cross-country skiing"``)."""
    words = [word for word in re.findall(r"[^\W_]+", name.lower().replace("-", "")) if word not in _ARTICLES]
    return " ".join(sorted(NAME_ALIASES.get(word, word) for word in words))


def read_class_descriptions(path: str | os.PathLike | Sequence[DescriptionFile]) -> list[DescriptionFile]:
    """The FROSTER-format files at `path`: a JSON file, a folder (every ``*.json`` in it that is a FROSTER file;
    others, such as FROSTER's ``k400_index2cls.json``, are skipped) or several paths joined by commas.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a given file is not a FROSTER file, or a folder holds none; the message names the path and fix.
    """
    if isinstance(path, Sequence) and not isinstance(path, str) and all(isinstance(f, DescriptionFile) for f in path):
        return list(path)
    files: list[DescriptionFile] = []
    for part in [p.strip() for p in str(path).split(",") if p.strip()]:
        where = Path(part).expanduser()
        if where.is_dir():
            found = []
            for candidate in sorted(where.glob("*.json")):
                try:
                    found.append(_read_file(candidate))
                except ValueError as error:
                    logger.debug("Skipping %s: %s", candidate, error)
            if not found:
                raise ValueError(f"--class_descriptions {part}: the folder holds no FROSTER description file "
                                 '({"0": "Name: description", ...}); pass FROSTER\'s label_rephrase/ folder or a file.')
            files.extend(found)
        elif where.is_file():
            files.append(_read_file(where))
        else:
            raise FileNotFoundError(f"--class_descriptions {part}: no such file or folder; pass a FROSTER "
                                    "*_rephrased_classes.json file or the folder holding them.")
    if not files:
        raise ValueError(f"--class_descriptions {str(path)!r} names no file; pass a FROSTER description file or folder.")
    return files


def _read_file(path: Path) -> DescriptionFile:
    return DescriptionFile(str(path), load_descriptions(path, format="froster").one_per_class())


def match_class_descriptions(class_names: Sequence[str], source) -> list[str]:
    """The FROSTER entry (``"Name: description"``) of every class of `class_names`, in that order, from the one file
    of `source` (a path for `read_class_descriptions`, or its result) that describes them all.

    Raises:
        ValueError: no file describes every class; names the closest file, the classes it lacks and the fix.
    """
    files = read_class_descriptions(source)
    names = list(class_names)
    best: tuple[int, DescriptionFile, list[str]] | None = None
    for file in sorted(files, key=lambda f: len(f.entries)):
        found, missing = file.match(names)
        if not missing:
            if len(files) > 1:
                logger.info("Class descriptions for %d classes from %s.", len(names), file.path)
            return [entry for entry in found if entry is not None]
        if best is None or len(missing) < best[0]:
            best = (len(missing), file, missing)
    assert best is not None
    _, file, missing = best
    shown = ", ".join(repr(name) for name in missing[:5])
    shown += f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    what = f"class {shown}" if len(missing) == 1 else f"{len(missing)} of the {len(names)} classes: {shown}"
    raise ValueError(f"Class descriptions {file.path}: no entry for {what}; add "
                     f"'\"<index>\": \"<class name>: <description>\"' for it, or pass the file written for this "
                     "vocabulary (e.g. FROSTER's label_rephrase/ folder, which holds one per dataset).")


def description_prompts(entries: Sequence[str], templates: Sequence[str] | str = KINETICS_TEMPLATES
                        ) -> list[list[str]]:
    """C lists of K + 1 prompts: ``template.format(prefix) + " " + entry`` for each of the K `templates`, then the
    bare `entry` (``prefix`` = the entry's text before its first ``:``). Visual-AI/FROSTER
    ``slowfast/models/temporalclip_video_model.py`` ``text_prompt`` (lines 326-390 at 230ae88): 28 templates plus
    ``'{}'``, the last filled with the whole entry, the others with ``id2cls[id].split(':')[0]`` and the entry
    appended; ``achieve_csf_matrix`` (lines 392-405) normalises each, averages and renormalises."""
    templates = [templates] if isinstance(templates, str) else list(templates)
    if not templates or any("{}" not in template for template in templates):
        raise ValueError(f"Templates need one '{{}}' each, e.g. 'a video of {{}}.'; got {templates!r}.")
    prompts = []
    for entry in entries:
        prefix = entry.split(":")[0]
        prompts.append([f"{template.format(prefix)} {entry}" for template in templates] + [entry])
    return prompts


__all__ = ["NAME_ALIASES", "DescriptionFile", "description_key", "description_prompts", "match_class_descriptions",
           "read_class_descriptions"]
