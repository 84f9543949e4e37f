"""Class descriptions from a local language model with the papers' own queries, or from fixed templates.

```python
from hfvideoclip.text.descriptor_generation import TransformersGenerator, generate_descriptions

llm = TransformersGenerator.from_pretrained("Qwen/Qwen2.5-7B-Instruct")          # any causal LM, local or Hub
spatial = generate_descriptions(["abseiling", "archery"], method="ost", kind="spatial", generator=llm)
toy = generate_descriptions(["a star moving left"], method="ost", kind="temporal")   # no model: templates
```
The command line is ``recipes/generate_descriptors.py`` (`main`).

Queries (`QUERIES`, ``{cls}`` the class name, ``{n}`` the count), worded as in the papers:

- OST spatial, Sec. 3.2 Eq. 6: "Please give me a long list of descriptors for action: {cls}, {n} descriptors in
  total." (Fig. 3 shows the variant "... a long list of static visual descriptors for action: {cls}").
- OST temporal, Sec. 3.2 Eq. 7: "Please give me a long list of decompositions of steps for action: {cls}, {n}
  steps in total".
- MSTA (ETL4Video) Sec. 3.3: "Please give me {n} sentences describing the visual appearance of the action {cls}"
  and "Please give me {n} sentences describing the temporally decoupled steps of the action {cls}".
- FROSTER Sec. 4: "Please describe this action in the video [{cls}]" (the paper prints the instruction with an
  empty ``[]`` where the class name goes); the answer becomes the entry ``"<Class name>: <description>"``.

The papers queried GPT-3.5 (OST: temperature 0.7) and DeepSeek-V2 (MSTA); here any `transformers` causal LM
answers, greedily by default (``do_sample=False``) so a run is reproducible. A tokenizer with a chat template gets
the query as one user turn (plus ``system_prompt`` if given); otherwise the plain query and a newline. Answers are
parsed by `parse_list` / `parse_description` (numbered or bulleted lists, JSON arrays, one comma-separated line,
quotes, trailing periods, duplicates, chatter lines). A class whose answer yields fewer than ``n`` usable items is
padded with the template fallback (`template_texts`) and more than ``n`` are cut, so every class gets exactly ``n``.

Template fallback (no model; the toy world, tests, or padding): `FALLBACK_TEMPLATES` per method and kind, filled
with the class name, in order; past the end of a list the templates repeat with a " (2)", " (3)" ... suffix.
OST spatial gives "{cls}", "a scene with {cls}", "the objects in {cls}", "the background of {cls}", ...; OST
temporal gives the steps "the first frames of {cls}", "then the middle of {cls}", "then the last frames of
{cls}", "finally {cls} again", ...; MSTA gives sentences ("The video shows {cls}", "First, {cls} appears", ...);
FROSTER gives "<Class name>: The video shows {cls}". Their words are in the toy CLIP's vocabulary, so the toy world
embeds them as words. They add no knowledge; they only exercise the pipelines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .descriptors import (
    DEFAULT_DESCRIPTORS_PER_CLASS,
    DESCRIPTION_FORMATS,
    FROSTER_KIND,
    ClassDescriptions,
    load_class_names,
    save_descriptions,
)

logger = logging.getLogger(__name__)

METHOD_KINDS: dict[str, tuple[str, ...]] = {"froster": (FROSTER_KIND,), "msta": ("spatial", "temporal"),
                                            "ost": ("spatial", "temporal")}
"""The description files each method uses."""

OUTPUT_FILES: dict[str, dict[str, str]] = {
    "froster": {FROSTER_KIND: "descriptions.json"},
    "msta": {"spatial": "spatial.json", "temporal": "temporal.json"},
    "ost": {"spatial": "spatial.json", "temporal": "temporal.json"},
}
"""File names written by `write_descriptor_files` (and the recipe), per method and kind."""
CLASS_NAMES_FILE = "class_names.json"
GENERATION_FILE = "generation.json"
COMPLETIONS_FILE = "completions.json"

OST_SPATIAL_QUERY = "Please give me a long list of descriptors for action: {cls}, {n} descriptors in total."
OST_TEMPORAL_QUERY = "Please give me a long list of decompositions of steps for action: {cls}, {n} steps in total"
MSTA_SPATIAL_QUERY = "Please give me {n} sentences describing the visual appearance of the action {cls}"
MSTA_TEMPORAL_QUERY = "Please give me {n} sentences describing the temporally decoupled steps of the action {cls}"
FROSTER_QUERY = "Please describe this action in the video [{cls}]"

QUERIES: dict[tuple[str, str], str] = {
    ("ost", "spatial"): OST_SPATIAL_QUERY, ("ost", "temporal"): OST_TEMPORAL_QUERY,
    ("msta", "spatial"): MSTA_SPATIAL_QUERY, ("msta", "temporal"): MSTA_TEMPORAL_QUERY,
    ("froster", FROSTER_KIND): FROSTER_QUERY,
}
"""The language-model query per (method, kind), with ``{cls}`` and ``{n}`` (see the module doc for sources)."""

FALLBACK_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ost", "spatial"): ("{cls}", "a scene with {cls}", "the objects in {cls}", "the background of {cls}",
                         "a frame of {cls}", "a picture of {cls}", "a person doing {cls}", "an example of {cls}"),
    ("ost", "temporal"): ("the first frames of {cls}", "then the middle of {cls}", "then the last frames of {cls}",
                          "finally {cls} again", "the first frame of {cls}", "the second frame of {cls}",
                          "the last frame of {cls}", "{cls} from the first frame to the last"),
    ("msta", "spatial"): ("The video shows {cls}", "The scene contains {cls}", "A frame of the video shows {cls}",
                          "The background is the place of {cls}", "A picture of {cls}",
                          "The objects of {cls} are in the video"),
    ("msta", "temporal"): ("First, {cls} appears", "Then {cls} goes on", "Finally, {cls} is over",
                           "At first the video shows {cls}", "Then the video shows {cls} again",
                           "In the last frames, {cls}"),
    ("froster", FROSTER_KIND): ("The video shows {cls}",),
}
"""The deterministic fallback texts per (method, kind), filled with the class name (see the module doc)."""

Generator = Callable[[list[str]], list[str]]
"""``generator(queries) -> answers``: one completion (the new text only) per query."""


# ------------------------------------------------------------------------------------------------- queries


def build_query(method: str, kind: str, class_name: str, n: int) -> str:
    """The paper's query for one class: ``QUERIES[(method, kind)]`` with ``{cls}`` and ``{n}`` filled."""
    _check_method_kind(method, kind)
    return QUERIES[(method, kind)].format(cls=class_name, n=n)


def template_texts(method: str, kind: str, class_name: str, n: int) -> list[str]:
    """``n`` distinct fallback texts for a class (FROSTER: the description part only, without the name prefix)."""
    _check_method_kind(method, kind)
    templates = FALLBACK_TEMPLATES[(method, kind)]
    texts = []
    for index in range(n):
        text = templates[index % len(templates)].format(cls=class_name)
        round_ = index // len(templates)
        texts.append(text if round_ == 0 else f"{text} ({round_ + 1})")
    return texts


# ------------------------------------------------------------------------------------------------- parsing

_BULLET = r"[-*•·‣▪●◦–—+>]+"
_NUMBER = r"\(?\d{1,3}\s*[.):\]](?!\d)|\d{1,3}\s*-(?=\s)"
_LETTER = r"\(?[A-Za-z][.)](?=\s)"
_STEP = r"(?:step|phase)\s*\d{1,3}\s*[:.)-]?"
_MARKER = re.compile(rf"^\s*(?:{_BULLET}|{_NUMBER}|{_LETTER}|{_STEP})\s*", re.IGNORECASE)
_INLINE_NUMBERS = re.compile(r"(?:^|\s)\(?\d{1,2}[.)]\s+")
_INLINE_NUMBERS_BREAK = re.compile(r"(?<=\S)\s+(?=\(?\d{1,2}[.)]\s)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(]?[A-Z])")
_QUOTES = "\"'“”‘’`«»"
_CHATTER = re.compile(r"^(?:here (?:are|is)|sure\b|certainly\b|of course\b|okay\b|ok\b|below (?:are|is)|the following"
                      r"|i hope|hope this|let me know|note:|these (?:descriptors|steps|sentences)|as an ai)",
                      re.IGNORECASE)
_INTERJECTION = re.compile(r"^(?:sure|certainly|of course|okay|ok)\s*[!.,]\s+(?=\S)", re.IGNORECASE)


def _strip_marker(line: str) -> tuple[str, bool]:
    """Remove list markers ("1.", "2)", "(3)", "-", "*", "•", "a)", "Step 1:"), repeatedly; whether one was there."""
    marked = False
    while (match := _MARKER.match(line)) is not None and match.end() > 0:
        line, marked = line[match.end():], True
    return line, marked


def _clean(text: str) -> str:
    """Markdown emphasis, surrounding quotes, trailing commas/semicolons/periods and extra spaces removed."""
    text = re.sub(r"\*\*|__|`", "", text)
    previous = None
    while text != previous:
        previous = text
        text = text.strip().rstrip(",;").strip()
        if text[:1] in _QUOTES:
            text = text[1:]
        if text[-1:] in _QUOTES:
            text = text[:-1]
        text = text.strip().rstrip(".").strip()
    return " ".join(text.split())


def _is_chatter(line: str) -> bool:
    stripped = line.strip()
    return stripped.endswith(":") or stripped.startswith("#") or bool(_CHATTER.match(stripped))


def _json_list(text: str) -> list[str] | None:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except ValueError:
        return None
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    return None


def _split_single_line(line: str) -> list[str]:
    """One unmarked line holding several items: sentences "A. B.", or "a, b; c, and d"."""
    sentences = [part for part in _SENTENCE_END.split(line) if part.strip()]
    if len(sentences) >= 2:
        return sentences
    parts = [part for part in re.split(r"[;,]", line) if part.strip()]
    if len(parts) >= 2:
        parts[-1] = re.sub(r"^\s*(?:and|or)\s+", "", parts[-1])
        return parts
    return [line]


def parse_list(text: str, n: int | None = None) -> list[str]:
    """The items of a language model's list answer, cleaned and de-duplicated (case-insensitively), at most ``n``.

    Handles numbered ("1. x", "1) x", "(1) x", "Step 1: x") and bulleted ("- x", "* x", "• x") lists, a JSON array,
    one line of comma- or semicolon-separated items or of several sentences, surrounding quotes, Markdown bold,
    trailing commas and periods, empty lines, and chatter ("Here are 4 descriptors:", "I hope this helps").
    When some lines carry list markers, only those lines count; items without a letter or digit are dropped.
    """
    items = _json_list(text)
    if items is None:
        lines = []
        for line in text.splitlines():  # "1. a 2. b 3. c" on one line: one line per item
            if len(_INLINE_NUMBERS.findall(line)) >= 2:
                lines.extend(_INLINE_NUMBERS_BREAK.split(line))
            elif line.strip():
                lines.append(line)
        stripped = [_strip_marker(line) for line in lines]
        if any(marked for _, marked in stripped):
            items = [line for line, marked in stripped if marked]
        else:
            content = [line for line, _ in stripped if not _is_chatter(line)]
            items = _split_single_line(content[0]) if len(content) == 1 else content
    result, seen = [], set()
    for item in items:
        cleaned = _clean(_strip_marker(item)[0])
        key = cleaned.lower()
        if not re.search(r"[^\W_]", cleaned) or key in seen or cleaned.endswith(":"):
            continue
        seen.add(key)
        result.append(cleaned)
    return result if n is None else result[:n]


def parse_description(text: str, class_name: str | None = None) -> str:
    """A one-paragraph description from a language model's answer: the first line that is not chatter, without a
    leading "Sure!", list markers, quotes, trailing period or a repeated ``"<class name>:"`` / ``"Description:"``
    prefix; ``""`` when nothing is left."""
    heads = {"description", "answer", *([class_name.lower()] if class_name else [])}
    for line in text.splitlines():
        line = _INTERJECTION.sub("", _strip_marker(line)[0].strip())
        if not line.strip() or _is_chatter(line):
            continue
        line = _clean(line)
        head, colon, tail = line.partition(":")
        if colon and _clean(head).lower() in heads:
            line = _clean(tail)
        if line:
            return line
    return ""


# ---------------------------------------------------------------------------------------------- generation


class TransformersGenerator:
    """Answers queries with a local `transformers` causal LM (`AutoModelForCausalLM` + `AutoTokenizer`).

    Greedy by default (``do_sample=False``); batches of ``batch_size`` queries, left-padded; returns only the new
    text of each answer (special tokens skipped). The query goes through the tokenizer's chat template when it has
    one (one user turn, after ``system_prompt`` if given), else it is sent as plain text followed by a newline.
    """

    def __init__(self, model, tokenizer, *, max_new_tokens: int = 256, batch_size: int = 8, do_sample: bool = False,
                 system_prompt: str | None = None, seed: int = 0, **generate_kwargs):
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError(f"max_new_tokens and batch_size must be >= 1, got {max_new_tokens} and {batch_size}.")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_new_tokens, self.batch_size, self.do_sample = max_new_tokens, batch_size, do_sample
        self.system_prompt, self.seed, self.generate_kwargs = system_prompt, seed, generate_kwargs
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError("The tokenizer has neither a pad nor an eos token; set tokenizer.pad_token.")
            tokenizer.pad_token = tokenizer.eos_token

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, device: str | None = None, dtype: str = "auto",
                        trust_remote_code: bool = False, local_files_only: bool = False,
                        **kwargs) -> TransformersGenerator:
        """Load model and tokenizer from a local folder or the Hub (``local_files_only=True``, or
        ``HF_HUB_OFFLINE=1``, never downloads). ``device`` defaults to CUDA when available, else CPU."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        options = dict(trust_remote_code=trust_remote_code, local_files_only=local_files_only)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **options)
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch_dtype, **options)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model.to(device), tokenizer, **kwargs)

    def format_prompt(self, query: str) -> str:
        """The text the model continues: the chat template applied to the query, or the query and a newline."""
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages.append({"role": "user", "content": query})
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prefix = f"{self.system_prompt}\n" if self.system_prompt else ""
        return f"{prefix}{query}\n"

    def __call__(self, queries: list[str]) -> list[str]:
        import torch

        chat = bool(getattr(self.tokenizer, "chat_template", None))
        device = next(self.model.parameters()).device
        answers: list[str] = []
        if self.do_sample:
            torch.manual_seed(self.seed)
        for start in range(0, len(queries), self.batch_size):
            prompts = [self.format_prompt(query) for query in queries[start:start + self.batch_size]]
            inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not chat)
            inputs = {key: value.to(device) for key, value in inputs.items() if key in ("input_ids", "attention_mask")}
            with torch.no_grad():
                output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=self.do_sample,
                                             pad_token_id=self.tokenizer.pad_token_id, **self.generate_kwargs)
            new_tokens = output[:, inputs["input_ids"].shape[1]:]
            answers.extend(self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
        return answers


@dataclass
class GenerationRecord:
    """What `generate_descriptions` did for one file: the raw answers and how many texts each class was padded."""

    answers: list[str] | None = None
    padded: dict[int, int] = field(default_factory=dict)


def generate_descriptions(class_names: Sequence[str], method: str = "ost", kind: str = "spatial",
                          num_descriptors: int | None = None, generator: Generator | None = None, *,
                          record: GenerationRecord | None = None) -> ClassDescriptions:
    """Descriptions of ``class_names`` for ``method`` (``"ost"``, ``"msta"``, ``"froster"``) and ``kind``
    (``"spatial"``, ``"temporal"``; ``"description"`` for FROSTER).

    Args:
        class_names: the vocabulary in label order.
        num_descriptors: texts per class (default `DEFAULT_DESCRIPTORS_PER_CLASS`: OST 4, MSTA 2, FROSTER 1; FROSTER
            takes only 1).
        generator: ``generator(queries) -> answers`` (e.g. a `TransformersGenerator`); None uses the template
            fallback only.
        record: filled with the raw answers and the padding per class, if given.

    Every class gets exactly ``num_descriptors`` texts: parsed answers first, padded with `template_texts` (the
    classes padded are logged). FROSTER entries are ``"<Class name>: <description>"``.
    """
    _check_method_kind(method, kind)
    class_names = [str(name) for name in class_names]
    if not class_names:
        raise ValueError("`class_names` is empty: pass the vocabulary to describe.")
    n = DEFAULT_DESCRIPTORS_PER_CLASS[method] if num_descriptors is None else int(num_descriptors)
    if n < 1 or (method == "froster" and n != 1):
        raise ValueError(f"num_descriptors={num_descriptors}: use >= 1 (FROSTER files hold exactly 1 description "
                         "per class).")
    record = record if record is not None else GenerationRecord()
    answers = None
    if generator is not None:
        answers = list(generator([build_query(method, kind, name, n) for name in class_names]))
        if len(answers) != len(class_names):
            raise ValueError(f"The generator returned {len(answers)} answers for {len(class_names)} queries.")
    record.answers = answers
    per_class = []
    for index, name in enumerate(class_names):
        if method == "froster":
            description = parse_description(answers[index], name) if answers is not None else ""
            if not description:
                description = template_texts(method, kind, name, 1)[0]
                if answers is not None:
                    record.padded[index] = 1
            per_class.append([f"{name[:1].upper()}{name[1:]}: {description}"])
            continue
        texts = parse_list(answers[index], n) if answers is not None else []
        if len(texts) < n:
            seen = {text.lower() for text in texts}
            fallback = [text for text in template_texts(method, kind, name, 2 * n) if text.lower() not in seen]
            if answers is not None:
                record.padded[index] = n - len(texts)
            texts = texts + fallback[:n - len(texts)]
        per_class.append(texts)
    if answers is not None and record.padded:
        logger.warning("%s %s: %d of %d classes had fewer than %d usable items in the model's answer and were padded "
                       "with template texts (%s).", method, kind, len(record.padded), len(class_names), n,
                       ", ".join(class_names[index] for index in list(record.padded)[:5]))
    return ClassDescriptions(per_class, method, kind, class_names=class_names)


def write_descriptor_files(class_names: Sequence[str], output_dir: str | os.PathLike, method: str = "ost",
                           num_descriptors: int | None = None, generator: Generator | None = None, *,
                           overwrite: bool = False, metadata: dict | None = None) -> dict[str, Path]:
    """Generate every file of ``method`` into ``output_dir`` (`OUTPUT_FILES`: ``spatial.json`` + ``temporal.json``
    for OST and MSTA, ``descriptions.json`` for FROSTER), plus ``class_names.json`` (``{"0": name}``, the
    vocabulary the indices refer to), ``generation.json`` (method, count, queries, model, padded classes) and, with
    a generator, ``completions.json`` (the raw answers). Nothing in them depends on time, so equal inputs give
    byte-identical files. Returns ``{kind: path}`` of the description files."""
    if method not in DESCRIPTION_FORMATS:
        raise ValueError(f"Unknown method {method!r}; use one of {list(DESCRIPTION_FORMATS)}.")
    output_dir = Path(output_dir)
    targets = {kind: output_dir / name for kind, name in OUTPUT_FILES[method].items()}
    extra = [output_dir / CLASS_NAMES_FILE, output_dir / GENERATION_FILE, output_dir / COMPLETIONS_FILE]
    existing = [str(path) for path in [*targets.values(), *extra] if path.exists()]
    if existing and not overwrite:
        raise ValueError(f"{', '.join(existing)} already exist; pass overwrite=True (--overwrite) or choose another "
                         "output directory.")
    class_names = [str(name) for name in class_names]
    n = DEFAULT_DESCRIPTORS_PER_CLASS[method] if num_descriptors is None else num_descriptors
    written, padded, completions = {}, {}, {}
    for kind, path in targets.items():
        record = GenerationRecord()
        descriptions = generate_descriptions(class_names, method, kind, n, generator, record=record)
        written[kind] = save_descriptions(descriptions, path)
        padded[kind] = {str(index): count for index, count in sorted(record.padded.items())}
        if record.answers is not None:
            completions[kind] = {str(index): answer for index, answer in enumerate(record.answers)}
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_json(output_dir / CLASS_NAMES_FILE, {str(index): name for index, name in enumerate(class_names)})
    info = {"method": method, "num_classes": len(class_names), "num_descriptors": n,
            "files": {kind: path.name for kind, path in written.items()}, "class_names": CLASS_NAMES_FILE,
            "source": "model" if generator is not None else "template",
            "queries": {kind: QUERIES[(method, kind)] for kind in targets} if generator is not None else None,
            "fallback_templates": {kind: list(FALLBACK_TEMPLATES[(method, kind)]) for kind in targets},
            "padded": padded if generator is not None else None, **(metadata or {})}
    _write_json(output_dir / GENERATION_FILE, info)
    if completions:
        _write_json(output_dir / COMPLETIONS_FILE, completions)
    else:
        (output_dir / COMPLETIONS_FILE).unlink(missing_ok=True)
    return written


# ----------------------------------------------------------------------------------------------- vocabulary


def protocol_class_names(name: str, split: int | None = None, eval_set: str | None = None,
                         cache_dir: str | None = None) -> list[str]:
    """The class names of a registered protocol: of split ``split`` (index; None: all splits) and set ``eval_set``
    (``"train"`` or an eval key such as ``"base"``, ``"novel"``, ``"test"``; None: all sets), in order of first
    appearance. Toy protocols are planned without rendering their videos; others are loaded."""
    from ..data.protocols import load_protocol
    from ..toy.protocols import PROTOCOL_NAMES

    sets: list[list[tuple[str, list[str]]]] = []  # per split: (set name, class names)
    if name in PROTOCOL_NAMES:
        from ..toy.protocols import plan_protocol

        for planned in plan_protocol(name).splits:
            tables = ([("train", planned["train"])] if planned["train"] is not None else []) + \
                list(planned["eval"].items())
            sets.append([(key, list(table["names"])) for key, table in tables])
    else:
        for loaded in load_protocol(name, cache_dir=cache_dir).splits:
            datasets = ([("train", loaded.train)] if loaded.train is not None else []) + list(loaded.eval.items())
            sets.append([(key, list(dataset.features["label"].names)) for key, dataset in datasets])
    if split is not None:
        if not 0 <= split < len(sets):
            raise ValueError(f"Protocol {name!r} has {len(sets)} splits; --split must be in 0..{len(sets) - 1}.")
        sets = [sets[split]]
    available = sorted({key for split_sets in sets for key, _ in split_sets})
    if eval_set is not None and eval_set not in available:
        raise ValueError(f"Protocol {name!r} has no set {eval_set!r}; its sets are {available}.")
    names: list[str] = []
    for split_sets in sets:
        for key, set_names in split_sets:
            if eval_set is None or key == eval_set:
                names.extend(class_name for class_name in set_names if class_name not in names)
    return names


# ------------------------------------------------------------------------------------------------------ CLI


@dataclass
class DescriptorGenerationArguments:
    """Flags of ``recipes/generate_descriptors.py``."""

    output_dir: str = field(metadata={"help": "Where the description files are written."})
    kind: str = field(default="ost", metadata={
        "help": "Whose files: ost (spatial.json + temporal.json, 4 each), msta (spatial.json + temporal.json, 2 "
                "each) or froster (descriptions.json, 'Name: description')."})
    class_names: str | None = field(default=None, metadata={
        "help": "Class-name file: .txt (one per line), .json list or {\"0\": name}, or .csv/.tsv with id,name."})
    protocol: str | None = field(default=None, metadata={
        "help": "Instead of --class_names: the vocabulary of a registered protocol (e.g. toy-b2n)."})
    split: int | None = field(default=None, metadata={
        "help": "With --protocol: only this split (index); default all splits."})
    protocol_set: str | None = field(default=None, metadata={
        "help": "With --protocol: only this set (train, base, novel, test); default every set. Use --split S "
                "--protocol_set train for a file indexed like the training labels of split S."})
    cache_dir: str | None = field(default=None, metadata={"help": "With --protocol: its video cache."})
    model: str | None = field(default=None, metadata={
        "help": "A causal language model (local folder or Hub id) that answers the papers' queries."})
    fallback: str | None = field(default=None, metadata={
        "help": "'template': no model, deterministic template texts (toy world, tests)."})
    num_descriptors: int | None = field(default=None, metadata={
        "help": "Texts per class (default: ost 4, msta 2, froster 1)."})
    max_new_tokens: int = field(default=256, metadata={"help": "Tokens generated per answer."})
    batch_size: int = field(default=8, metadata={"help": "Queries per generate() call."})
    do_sample: bool = field(default=False, metadata={
        "help": "Sample instead of greedy decoding (the papers' GPT-3.5 ran at temperature 0.7)."})
    temperature: float | None = field(default=None, metadata={"help": "Sampling temperature (with --do_sample)."})
    seed: int = field(default=0, metadata={"help": "Seed for sampling."})
    system_prompt: str | None = field(default=None, metadata={"help": "Optional system message."})
    device: str | None = field(default=None, metadata={"help": "Device of the model (default: cuda if available)."})
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16 or float16."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Passed to from_pretrained."})
    local_files_only: bool = field(default=False, metadata={"help": "Never download the model."})
    overwrite: bool = field(default=False, metadata={"help": "Replace existing files in --output_dir."})

    def __post_init__(self):
        if self.kind not in DESCRIPTION_FORMATS:
            raise ValueError(f"--kind {self.kind!r}: use one of {', '.join(DESCRIPTION_FORMATS)}.")
        if (self.class_names is None) == (self.protocol is None):
            raise ValueError("Give the vocabulary with exactly one of --class_names FILE and --protocol NAME.")
        if self.protocol is None and (self.split is not None or self.protocol_set is not None):
            raise ValueError("--split and --protocol_set select a protocol's classes; they need --protocol.")
        if (self.model is None) == (self.fallback is None):
            raise ValueError("Choose one source: --model PATH_OR_ID (a language model answers the papers' queries) "
                             "or --fallback template (fixed template texts, no model).")
        if self.fallback is not None and self.fallback != "template":
            raise ValueError(f"--fallback {self.fallback!r}: the only fallback is 'template'.")
        if self.temperature is not None and not self.do_sample:
            raise ValueError("--temperature only applies with --do_sample; greedy decoding ignores it.")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"--dtype {self.dtype!r}: use auto, float32, bfloat16 or float16.")


def main(argv: Sequence[str] | None = None) -> int:
    """``recipes/generate_descriptors.py``: parse the flags, read the vocabulary, write the files. Bad input: one
    line on stderr, exit code 2."""
    from transformers import HfArgumentParser

    from ..argparse_errors import one_line_errors

    parser = one_line_errors(HfArgumentParser(DescriptorGenerationArguments, prog="recipes/generate_descriptors.py",
                                              description=__doc__.split("\n\n")[0]))
    try:
        (args,) = parser.parse_args_into_dataclasses(args=list(sys.argv[1:] if argv is None else argv))
        return _generate(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"error: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}",
              file=sys.stderr)
        return 2


def _generate(args: DescriptorGenerationArguments) -> int:
    if args.class_names is not None:
        class_names = load_class_names(args.class_names)
    else:
        class_names = protocol_class_names(args.protocol, args.split, args.protocol_set, args.cache_dir)
    generator = None
    if args.model is not None:
        generate_kwargs = {"temperature": args.temperature} if args.temperature is not None else {}
        generator = TransformersGenerator.from_pretrained(
            args.model, device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code,
            local_files_only=args.local_files_only, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
            do_sample=args.do_sample, system_prompt=args.system_prompt, seed=args.seed, **generate_kwargs)
    metadata = {"vocabulary": args.class_names if args.class_names is not None else
                {"protocol": args.protocol, "split": args.split, "set": args.protocol_set},
                "model": args.model,
                "decoding": {"do_sample": args.do_sample, "temperature": args.temperature,
                             "max_new_tokens": args.max_new_tokens, "seed": args.seed,
                             "system_prompt": args.system_prompt} if args.model is not None else None}
    written = write_descriptor_files(class_names, args.output_dir, args.kind, args.num_descriptors, generator,
                                     overwrite=args.overwrite, metadata=metadata)
    for kind, path in written.items():
        print(f"wrote {path} ({args.kind} {kind}, {len(class_names)} classes)")
    return 0


def _write_json(path: Path, content) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _check_method_kind(method: str, kind: str) -> None:
    if method not in METHOD_KINDS:
        raise ValueError(f"Unknown method {method!r}; use one of {list(METHOD_KINDS)}.")
    if kind not in METHOD_KINDS[method]:
        raise ValueError(f"{method} descriptions come in kinds {list(METHOD_KINDS[method])}, not {kind!r}.")


__all__ = ["CLASS_NAMES_FILE", "COMPLETIONS_FILE", "DescriptorGenerationArguments", "FALLBACK_TEMPLATES",
           "FROSTER_QUERY", "GENERATION_FILE", "GenerationRecord", "Generator", "METHOD_KINDS", "MSTA_SPATIAL_QUERY",
           "MSTA_TEMPORAL_QUERY", "OST_SPATIAL_QUERY", "OST_TEMPORAL_QUERY", "OUTPUT_FILES", "QUERIES",
           "TransformersGenerator", "build_query", "generate_descriptions", "main", "parse_description",
           "parse_list", "protocol_class_names", "template_texts", "write_descriptor_files"]
