"""Class-description files of FROSTER, MSTA (ETL4Video) and OST: load, validate, save, and turn into prompts.

Three formats, all JSON objects keyed by the class index as a string (``"0"`` .. ``"C-1"``, the label order):

- ``froster``: one string per class, ``"Name: description"`` (FROSTER's ``label_rephrase/*_rephrased_classes.json``,
  ``{"0": "Abseiling: This video shows the process of abseiling ..."}``). The official code
  (``temporalclip_video_model.py``, ``text_prompt``) prompts ``template(name) + " " + entry`` with
  ``name = entry.split(":")[0]``, and the whole entry alone as the bare prompt. `kind` is ``"description"``.
- ``msta``: ``{"0": [sentence, ...]}``, N sentences per class, one file for spatial and one for temporal
  descriptions (MSTA Sec. 3.3; Table 1: N = 2). The sentences go to the frozen text branch as they are.
- ``ost``: ``{"0": [phrase, ...]}``, one file of spatial descriptors and one of temporal descriptors (OST Sec. 3.2 /
  4: Ns = Nt = 4; official files ``descriptors/<dataset>/{spatio,temporal}_descriptors/4_descriptors.json``).
  Prompts: `OST_SPATIAL_TEMPLATE` ``"This is a video about {des}"`` and `OST_TEMPORAL_TEMPLATE`
  ``"A video of {cls} usually includes {des}"`` (official ``utils/textprompt.py``; the temporal one is also
  OST Sec. 3.2, "we adopt a hard prompt").

```python
from hfvideoclip.text.descriptors import load_class_names, load_descriptions, descriptor_prompts, save_descriptions

names = load_class_names("k400_classes.csv")                       # .txt / .json list / {"0": name} / id,name CSV
spatial = load_descriptions("spatial.json", len(names), format="ost", kind="spatial", expected_per_class=4)
prompts = descriptor_prompts(spatial, names)                       # C lists: "This is a video about ski ramp", ...
froster = load_descriptions("k400_rephrased_classes.json", format="froster", class_names=names)
texts = froster.one_per_class()                                    # -> ClassTexts(..., descriptions=texts)
```
Every problem with a file raises ValueError naming the file, the problem and the fix.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..models.video_clip.prompt_templates import (
    KINETICS_TEMPLATES,
    OST_SPATIAL_TEMPLATE,
    OST_TEMPORAL_TEMPLATE,
    ost_descriptor_prompts,
)

DESCRIPTION_FORMATS: tuple[str, ...] = ("froster", "msta", "ost")
"""The methods whose description files this module reads and writes."""

FROSTER_KIND = "description"
DESCRIPTOR_KINDS: tuple[str, ...] = ("spatial", "temporal")
"""The kinds of MSTA / OST files (FROSTER files have the single kind `FROSTER_KIND`)."""


DEFAULT_DESCRIPTORS_PER_CLASS: dict[str, int] = {"froster": 1, "msta": 2, "ost": 4}
"""Per-class counts of the papers: FROSTER one rephrased description, MSTA N = 2 (Table 1), OST Ns = Nt = 4 (Sec. 4)."""

_MAX_LISTED = 10  # how many offending classes an error message lists


@dataclass
class ClassDescriptions:
    """The descriptions of C classes, in label order.

    Attributes:
        per_class: ``per_class[c]`` is the list of texts of class ``c`` (one ``"Name: description"`` string for
            FROSTER, N sentences for MSTA, N descriptor phrases for OST).
        format: ``"froster"``, ``"msta"`` or ``"ost"`` (the file's layout and how `descriptor_prompts` uses it).
        kind: ``"description"`` (FROSTER), else ``"spatial"`` or ``"temporal"``.
        path: the file it was read from or written to, if any.
        class_names: the class names it was generated for or checked against, if known (label order).
    """

    per_class: list[list[str]]
    format: str
    kind: str
    path: str | None = None
    class_names: list[str] | None = field(default=None)

    def __post_init__(self):
        self.format, self.kind = _check_format_kind(self.format, self.kind, self.path)
        self.per_class = [list(texts) for texts in self.per_class]
        if self.class_names is not None:
            self.class_names = list(self.class_names)
            if len(self.class_names) != len(self.per_class):
                raise ValueError(f"{len(self.class_names)} class names for {len(self.per_class)} classes of "
                                 "descriptions; give one name per class, in label order.")

    @property
    def num_classes(self) -> int:
        return len(self.per_class)

    @property
    def counts(self) -> list[int]:
        """Texts per class."""
        return [len(texts) for texts in self.per_class]

    def one_per_class(self) -> list[str]:
        """The single text of every class (FROSTER: the whole ``"Name: description"`` entry, as `ClassTexts` takes
        its ``descriptions``). ValueError if a class has several."""
        several = [index for index, texts in enumerate(self.per_class) if len(texts) != 1]
        if several:
            raise ValueError(f"{self._where()} has {len(self.per_class[several[0]])} texts for class {several[0]} "
                             f"(and {len(several) - 1} more such classes); `one_per_class` needs exactly one per "
                             "class (FROSTER files). Use `per_class` for MSTA/OST descriptor lists.")
        return [texts[0] for texts in self.per_class]

    def entry_names(self) -> list[str]:
        """FROSTER: the name before the first ``:`` of every entry (what the official code fills the templates
        with). ValueError for other formats."""
        if self.format != "froster":
            raise ValueError(f"{self._where()} is a {self.format} file; only FROSTER entries carry a name prefix.")
        return [_froster_split(text)[0] for text in self.one_per_class()]

    def select(self, names: Sequence[str]) -> ClassDescriptions:
        """The descriptions of ``names`` (a sub-vocabulary, e.g. the novel classes) in that order, looked up by
        `class_names`. ValueError listing the names it does not hold."""
        if self.class_names is None:
            raise ValueError(f"{self._where()} has no class names to look up by; load it with "
                             "`class_names=` (or build it with them) first.")
        lookup = {name: index for index, name in enumerate(self.class_names)}
        missing = [name for name in names if name not in lookup]
        if missing:
            raise ValueError(f"{self._where()} has no descriptions for {len(missing)} class(es): "
                             f"{_listed(missing)}; generate descriptions for the full vocabulary.")
        return replace(self, per_class=[list(self.per_class[lookup[name]]) for name in names],
                       class_names=list(names))

    def to_json_object(self) -> dict[str, str | list[str]]:
        """The file content: ``{"0": "Name: description"}`` (FROSTER) or ``{"0": [text, ...]}``."""
        if self.format == "froster":
            return {str(index): text for index, text in enumerate(self.one_per_class())}
        return {str(index): list(texts) for index, texts in enumerate(self.per_class)}

    def _where(self) -> str:
        return f"Description file {self.path}" if self.path else f"These {self.format} descriptions"


# --------------------------------------------------------------------------------------------------- loading


def load_descriptions(path: str | os.PathLike, num_classes: int | None = None, *, format: str,
                      kind: str | None = None, expected_per_class: int | None = None,
                      class_names: Sequence[str] | None = None) -> ClassDescriptions:
    """Read and validate a description file.

    Args:
        path: the JSON file.
        num_classes: how many classes the file must describe (indices ``0..num_classes-1``); default
            ``len(class_names)``, else whatever contiguous range the file holds.
        format: ``"froster"``, ``"msta"`` or ``"ost"``.
        kind: ``"spatial"`` or ``"temporal"`` for MSTA/OST (default: read from the path, e.g.
            ``spatio_descriptors/4_descriptors.json`` or ``temporal.json``); FROSTER files are ``"description"``.
        expected_per_class: if given, every class must have exactly this many texts.
        class_names: the vocabulary in label order; FROSTER entries are then checked to start with their class's
            name (ignoring case, punctuation, spaces and articles: ``"Driving a car:"`` matches ``driving car``),
            which catches a file written for another class order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the content is not what ``format`` describes; the message names the file, the problem and the fix.
    """
    path = Path(path)
    where = f"Description file {path}"
    format, kind = _check_format_kind(format, kind, path)
    if class_names is not None:
        class_names = list(class_names)
        if num_classes is None:
            num_classes = len(class_names)
        elif num_classes != len(class_names):
            raise ValueError(f"load_descriptions({str(path)!r}): num_classes={num_classes} but {len(class_names)} "
                             "class names were given; pass one of them, or make them agree.")
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"load_descriptions({str(path)!r}): num_classes must be >= 1, got {num_classes}.")
    if format == "froster" and expected_per_class not in (None, 1):
        raise ValueError(f"load_descriptions({str(path)!r}): FROSTER files hold one description per class; "
                         f"expected_per_class={expected_per_class} is not possible, leave it unset.")
    if not path.is_file():
        raise FileNotFoundError(f"{where} does not exist; generate one with `python recipes/generate_descriptors.py "
                                f"--kind {format} ...` or fix the path.")
    content = _read_json(path, where, _example(format))
    if not isinstance(content, dict):
        raise ValueError(f"{where}: the top level is {_json_type(content)}, not an object. Write "
                         f"{_example(format)}: class indices as keys.")
    indices = _class_indices(content, where, format)
    count = num_classes if num_classes is not None else (max(indices) + 1 if indices else 0)
    if not indices:
        raise ValueError(f"{where} is an empty object; add one entry per class: {_example(format)}.")
    missing = [index for index in range(count) if index not in indices]
    if missing:
        raise ValueError(f"{where} has no entry for {len(missing)} of {count} class indices: {_listed(missing)}. "
                         "Add an entry for every class index of the vocabulary (counting from 0), in label order.")
    extra = sorted(index for index in indices if index >= count)
    if extra:
        raise ValueError(f"{where} has entries for class indices {_listed(extra)} beyond the {count} classes "
                         f"(0..{count - 1}). Remove them, or check that the file was written for this vocabulary.")
    per_class = [_entry_texts(content[indices[index]], index, where, format) for index in range(count)]

    if expected_per_class is not None:
        wrong = [index for index, texts in enumerate(per_class) if len(texts) != expected_per_class]
        if wrong:
            shown = ", ".join(f"{index} ({len(per_class[index])})" for index in wrong[:_MAX_LISTED])
            more = f" and {len(wrong) - _MAX_LISTED} more" if len(wrong) > _MAX_LISTED else ""
            raise ValueError(f"{where}: {len(wrong)} class(es) do not have {expected_per_class} {kind} "
                             f"descriptors: class (count) {shown}{more}. Give every class exactly "
                             f"{expected_per_class}, or pass the count the file was made with.")
    if format == "froster" and class_names is not None:
        mismatched = [(index, _froster_split(texts[0])[0], class_names[index])
                      for index, texts in enumerate(per_class)
                      if _name_key(_froster_split(texts[0])[0]) != _name_key(class_names[index])]
        if mismatched:
            shown = "; ".join(f"class {index}: entry {entry!r} for class name {name!r}"
                              for index, entry, name in mismatched[:_MAX_LISTED])
            more = f"; and {len(mismatched) - _MAX_LISTED} more" if len(mismatched) > _MAX_LISTED else ""
            raise ValueError(f"{where}: {len(mismatched)} entry name(s) do not match the class names: {shown}{more}. "
                             "The file is probably in another class order or for another vocabulary; write entries "
                             "'<class name>: <description>' in label order, or fix the class-name file.")
    return ClassDescriptions(per_class, format, kind, str(path), class_names)


def save_descriptions(descriptions: ClassDescriptions, path: str | os.PathLike, *, indent: int = 2) -> Path:
    """Write ``descriptions`` in its format (see the module doc), creating parent folders; returns the path.

    The content is checked as `load_descriptions` checks a file (so a written file loads), written to a temporary
    name and renamed into place. ``descriptions.path`` is set to ``path``."""
    path = Path(path)
    content = descriptions.to_json_object()
    for key, value in content.items():
        _entry_texts(value, int(key), f"Descriptions to write to {path}", descriptions.format)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(json.dumps(content, indent=indent, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    descriptions.path = str(path)
    return path


# ---------------------------------------------------------------------------------------------------- prompts


def descriptor_prompts(descriptions: ClassDescriptions, class_names: Sequence[str] | None = None,
                       kind: str | None = None, *, templates: Sequence[str] | str | None = None,
                       include_bare: bool = False) -> list[list[str]]:
    """The text-encoder prompts of every class (C lists), as each method builds them:

    - OST spatial: ``OST_SPATIAL_TEMPLATE.format(des=d)`` (``"This is a video about {des}"``) per descriptor;
    - OST temporal: ``OST_TEMPORAL_TEMPLATE.format(cls=name, des=d)`` (``"A video of {cls} usually includes
      {des}"``) per descriptor;
    - MSTA: the sentences themselves (the frozen branch embeds them and averages per class);
    - FROSTER: ``template.format(prefix) + " " + entry`` for each of ``templates`` (default the 28
      `KINETICS_TEMPLATES`), ``prefix`` the entry's name before ``:`` as in the official code, then the bare entry
      if ``include_bare``.

    Args:
        descriptions: loaded or generated descriptions.
        class_names: the vocabulary in label order (needed for OST temporal prompts; default
            ``descriptions.class_names``).
        kind: ``"spatial"`` / ``"temporal"`` (or ``"description"``): a check that ``descriptions`` is of that kind.
        templates: FROSTER only: prompt templates with one ``{}``.
        include_bare: FROSTER only: append the bare entry to every class's prompts.
    """
    if kind is not None and kind != descriptions.kind:
        raise ValueError(f"descriptor_prompts(kind={kind!r}) but {descriptions._where()} holds {descriptions.kind} "
                         f"{descriptions.format} descriptions; load the {kind} file, or drop `kind`.")
    if descriptions.format != "froster" and (templates is not None or include_bare):
        raise ValueError(f"`templates` and `include_bare` apply to FROSTER descriptions only, not {descriptions.format}"
                         "; OST and MSTA prompts are fixed by the method.")
    names = list(class_names) if class_names is not None else descriptions.class_names
    if names is not None and len(names) != descriptions.num_classes:
        raise ValueError(f"{len(names)} class names for {descriptions.num_classes} classes in "
                         f"{descriptions._where()}; pass the vocabulary the file was written for, in label order.")
    if descriptions.format == "ost":
        if names is None and descriptions.kind == "temporal":
            raise ValueError("OST temporal prompts 'A video of {cls} usually includes {des}' need the class names: "
                             "pass `class_names`.")
        names = names if names is not None else [""] * descriptions.num_classes
        return [ost_descriptor_prompts(descriptions.kind, name, texts)
                for name, texts in zip(names, descriptions.per_class)]
    if descriptions.format == "msta":
        return [list(texts) for texts in descriptions.per_class]
    if templates is None:
        templates = KINETICS_TEMPLATES
    templates = [templates] if isinstance(templates, str) else list(templates)
    if not templates or any("{}" not in template for template in templates):
        raise ValueError(f"FROSTER templates need one '{{}}' each, e.g. 'a video of {{}}.'; got {templates!r}.")
    prompts = []
    for entry in descriptions.one_per_class():
        prefix = _froster_split(entry)[0]
        row = [f"{template.format(prefix)} {entry}" for template in templates]
        prompts.append(row + [entry] if include_bare else row)
    return prompts


# ------------------------------------------------------------------------------------------------ class names


def load_class_names(path: str | os.PathLike) -> list[str]:
    """Class names in label order from a ``.txt`` (one per line), a JSON list, JSON ``{"0": "name"}``, or a
    ``.csv`` / ``.tsv`` with columns ``id,name`` (header optional).

    Names are made natural as everywhere in the package (`hfvideoclip.data.natural_class_name`:
    ``ApplyEyeMakeup`` -> ``apply eye makeup``). Text and JSON files are read by the data package's reader
    (`hfvideoclip.data.own_data`, the ``--class_names_file`` of the recipes); this adds the CSV form and names
    the file and the position of a JSON syntax error.
    """
    from ..data.own_data import natural_class_name, read_class_names

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Class-name file {path} does not exist.")
    if path.suffix.lower() not in (".csv", ".tsv"):
        if path.suffix.lower() == ".json":
            _read_json(path, f"Class-name file {path}", '{"0": "abseiling", "1": "air drumming"} or a list of names')
        return read_class_names(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter=delimiter) if any(cell.strip() for cell in row)]
    where = f"Class-name file {path}"
    if rows and not rows[0][0].strip().isdigit():
        header = [cell.strip().lower() for cell in rows[0]]
        if "id" not in header or "name" not in header:
            raise ValueError(f"{where}: the header {rows[0]!r} needs the columns 'id' and 'name'; write 'id,name' "
                             "then one '0,abseiling' row per class.")
        id_column, name_column = header.index("id"), header.index("name")
        rows = rows[1:]
    else:
        id_column, name_column = 0, 1
    by_index: dict[int, str] = {}
    for number, row in enumerate(rows, start=1):
        if len(row) <= max(id_column, name_column) or not row[id_column].strip().isdigit():
            raise ValueError(f"{where}: row {number} {row!r} is not 'id,name' with an integer id; write one "
                             "'0,abseiling' row per class.")
        index = int(row[id_column])
        if index in by_index:
            raise ValueError(f"{where}: class id {index} appears twice; give every class one row.")
        by_index[index] = row[name_column]
    if not by_index:
        raise ValueError(f"{where} has no class names; write 'id,name' then one '0,abseiling' row per class.")
    missing = [index for index in range(max(by_index) + 1) if index not in by_index]
    if missing:
        raise ValueError(f"{where}: class ids must run 0..{max(by_index)} without gaps; missing {_listed(missing)}.")
    names = [natural_class_name(by_index[index]) for index in range(len(by_index))]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{where}: repeats class names {duplicates!r}; list each class once.")
    return names


# ---------------------------------------------------------------------------------------------------- helpers


def _check_format_kind(format: str, kind: str | None, path) -> tuple[str, str]:
    if format not in DESCRIPTION_FORMATS:
        raise ValueError(f"Unknown description format {format!r}; use one of {list(DESCRIPTION_FORMATS)} "
                         "(ETL4Video's files are 'msta').")
    if format == "froster":
        if kind not in (None, FROSTER_KIND):
            raise ValueError(f"FROSTER files have one kind, {FROSTER_KIND!r}, not {kind!r}; leave `kind` unset.")
        return format, FROSTER_KIND
    if kind is None and path is not None:
        kind = _kind_from_path(Path(path))
    if kind not in DESCRIPTOR_KINDS:
        hint = f" (could not tell from the file name {Path(path).name!r})" if path is not None and kind is None else ""
        raise ValueError(f"{format} descriptions need kind='spatial' or kind='temporal', got {kind!r}{hint}.")
    return format, kind


def _kind_from_path(path: Path) -> str | None:
    """``spatio_descriptors/4_descriptors.json``, ``spatial.json``, ``temporal_4_descriptors.json`` -> the kind."""
    text = "/".join(path.parts[-2:]).lower()
    spatial, temporal = bool(re.search(r"spatio|spatial", text)), "temporal" in text
    if spatial == temporal:
        return None
    return "spatial" if spatial else "temporal"


def _read_json(path: Path, where: str, example: str):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8 "
                         "JSON.") from None

    def no_duplicates(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"{where}: the key {key!r} appears twice; keep one entry per class.")
            seen.add(key)
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
                         f"Fix the syntax there; the file should look like {example}.") from None


def _class_indices(content: dict, where: str, format: str) -> dict[int, str]:
    """``{int index: original key}``; every key must be a non-negative decimal integer."""
    bad = [key for key in content if not (isinstance(key, str) and key.isascii() and key.isdigit())]
    if bad:
        raise ValueError(f"{where}: keys must be class indices \"0\", \"1\", ... (label order), got "
                         f"{_listed([repr(key) for key in bad])}. Key every entry by its class index, e.g. "
                         f"{_example(format)}; class names go in a separate class-name file.")
    indices: dict[int, str] = {}
    for key in content:
        if int(key) in indices:
            raise ValueError(f"{where}: keys {indices[int(key)]!r} and {key!r} are the same class index; keep one.")
        indices[int(key)] = key
    return indices


def _entry_texts(value, index: int, where: str, format: str) -> list[str]:
    """One class's texts, checked: FROSTER a non-empty ``"Name: description"`` string, else a non-empty list of
    non-empty strings."""
    if format == "froster":
        if isinstance(value, list):
            raise ValueError(f"{where}: class {index} holds a list; FROSTER files hold one 'Name: description' "
                             "string per class. This looks like an MSTA/OST descriptor file: load it with "
                             "format='msta' or format='ost'.")
        if not isinstance(value, str):
            raise ValueError(f"{where}: class {index} holds {_json_type(value)}; write a 'Name: description' "
                             "string.")
        name, description = _froster_split(value)
        if not value.strip():
            raise ValueError(f"{where}: class {index} has an empty description; write 'Name: description'.")
        if ":" not in value or not name or not description:
            raise ValueError(f"{where}: class {index} entry {_short(value)!r} is not 'Name: description' (a class "
                             "name, a colon, then the description), e.g. 'Abseiling: This video shows ...'.")
        return [value.strip()]
    if isinstance(value, str):
        raise ValueError(f"{where}: class {index} holds a single string; {format} files hold a list of "
                         "descriptors per class, e.g. {\"0\": [\"ski ramp\", \"snow-covered mountain\"]}. If this is a "
                         "FROSTER 'Name: description' file, load it with format='froster'.")
    if not isinstance(value, list):
        raise ValueError(f"{where}: class {index} holds {_json_type(value)}; write a list of descriptor strings.")
    if not value:
        raise ValueError(f"{where}: class {index} has an empty list; give it at least one descriptor.")
    for position, text in enumerate(value):
        if not isinstance(text, str):
            raise ValueError(f"{where}: class {index}, item {position} is {_json_type(text)}, not a string; "
                             "write each descriptor as a string.")
        if not text.strip():
            raise ValueError(f"{where}: class {index}, item {position} is an empty string; remove it or write "
                             "the descriptor.")
    return [text.strip() for text in value]


def _froster_split(entry: str) -> tuple[str, str]:
    """``"Abseiling: This video shows ..."`` -> (``"Abseiling"``, ``"This video shows ..."``)."""
    name, _, description = entry.partition(":")
    return name.strip(), description.strip()


_ARTICLES = frozenset({"a", "an", "the"})


def _name_key(name: str) -> str:
    """What must agree between a FROSTER entry name and the class name: lower-case words without articles,
    punctuation or spaces (``"Driving a car"`` ~ ``"driving car"``, ``"Skiing cross-country"`` ~
    ``"skiing crosscountry"``, ``"Swimming breaststroke"`` ~ ``"swimming breast stroke"``)."""
    words = re.findall(r"[^\W_]+", name.lower())
    return "".join(word for word in words if word not in _ARTICLES)


def _example(format: str) -> str:
    if format == "froster":
        return '{"0": "Abseiling: This video shows ...", "1": "Air drumming: ..."}'
    return '{"0": ["ski ramp", "snow-covered mountain"], "1": [...]}'


def _json_type(value) -> str:
    """The JSON type of a value, with its article: "an array", "a string", ..."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _listed(items: Sequence) -> str:
    items = list(items)
    shown = ", ".join(str(item) for item in items[:_MAX_LISTED])
    return shown + (f" ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["DEFAULT_DESCRIPTORS_PER_CLASS", "DESCRIPTION_FORMATS", "DESCRIPTOR_KINDS", "FROSTER_KIND",
           "OST_SPATIAL_TEMPLATE", "OST_TEMPORAL_TEMPLATE", "ClassDescriptions", "descriptor_prompts",
           "load_class_names", "load_descriptions", "save_descriptions"]
