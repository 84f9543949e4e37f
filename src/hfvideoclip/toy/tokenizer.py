"""A word-level vocabulary for the toy world, stored in CLIP's BPE tokenizer format.

CLIP's tokenizer is a byte-level BPE whose word-final symbols carry a ``</w>`` suffix ("circle" -> "circle</w>").
The BPE model only ever produces tokens reachable through its merges, so a vocabulary entry per word is not
enough: with no merges, "circle" would come out as six characters. `learn_word_merges` therefore runs BPE
training on the word list until every word is one symbol; applying those merges in rank order replays that
training on each word, so every known word encodes to exactly one token. Single characters (with and without
``</w>``) stay in the vocabulary, so unknown words fall back to characters instead of ``<|endoftext|>``.

The result loads with ``transformers.CLIPTokenizer.from_pretrained(dir)`` (``tokenizer.json``), and the
``vocab.json`` / ``merges.txt`` pair is written too, for loaders that read those.
"""

from __future__ import annotations

import json
import os
import re
import string
from collections import Counter

from .world import BACKGROUNDS, MOTIONS, PALETTE, SHAPES

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"
MODEL_MAX_LENGTH = 32

FUNCTION_WORDS: tuple[str, ...] = (
    # articles, prepositions, conjunctions, pronouns, auxiliaries
    "a", "an", "the", "of", "on", "in", "at", "to", "from", "with", "without", "by", "for", "into", "onto",
    "over", "under", "across", "around", "through", "toward", "towards", "while", "then", "and", "or", "but",
    "not", "no", "this", "that", "these", "those", "there", "it", "its", "itself", "is", "are", "was", "be",
    "being", "has", "have", "which", "who", "what", "where", "when", "how", "as", "than", "so", "very", "one",
    "two", "three", "some", "all", "each", "other", "another", "same", "first", "second", "last", "finally",
    # the video and image vocabulary of prompt templates and descriptions
    "photo", "video", "clip", "image", "picture", "frame", "frames", "scene", "example", "demonstration",
    "person", "people", "someone", "using", "doing", "during", "performing", "practicing", "about", "usually",
    "includes", "include", "shows", "showing", "shown", "contains", "action", "activity", "motion", "movement",
    "object", "objects", "thing", "something", "shape", "shapes", "colour", "color", "coloured", "colored",
    "background", "pattern", "texture", "small", "large", "big", "bigger", "smaller", "tiny", "grey", "gray",
    "dark", "bright", "light", "left", "right", "up", "down", "top", "bottom", "middle", "centre", "center",
    "side", "edge", "screen", "place", "position", "size", "time", "slowly", "quickly", "again", "repeatedly",
    "back", "forth", "still", "standing", "stays", "staying", "moves", "move", "moving", "goes", "going",
    "turns", "turning", "spins", "spinning", "rotates", "flashes", "flashing", "appears", "disappears",
    "becomes", "gets", "grows", "shrinks", "larger", "jumps", "jumping", "falls", "rises", "slides", "sliding",
    "clockwise", "counterclockwise", "direction", "horizontally", "vertically", "higher", "lower", "along",
)
"""Words beyond the toy world's own: those of the 28 Kinetics prompt templates (`hfvideoclip.text.templates`;
a test checks they are all here) and of plausible class descriptions."""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def toy_words() -> list[str]:
    """Every word of the toy vocabulary (colours, shapes, motions, backgrounds, templates, function words)."""
    words = set(PALETTE) | set(SHAPES) | set(BACKGROUNDS) | set(FUNCTION_WORDS)
    for motion in MOTIONS.values():
        words.update(_words(motion.name))
        words.update(_words(motion.phrase))
    return sorted(words)


_BASE_CHARACTERS = string.ascii_lowercase + string.digits + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _symbols(word: str) -> tuple[str, ...]:
    return tuple(word[:-1]) + (word[-1] + END_OF_WORD,)


def learn_word_merges(words: list[str]) -> list[tuple[str, str]]:
    """BPE training on ``words`` (each counted once) until every word is a single symbol; deterministic."""
    corpus = {word: _symbols(word) for word in sorted(set(words))}
    merges: list[tuple[str, str]] = []
    while True:
        pairs: Counter = Counter()
        for symbols in corpus.values():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += 1
        if not pairs:
            return merges
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        joined = best[0] + best[1]
        for word, symbols in corpus.items():
            if len(symbols) < 2:
                continue
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            corpus[word] = tuple(out)


def build_vocab(words: list[str] | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary (token -> id) and merges (pairs, in rank order) for ``words`` (default `toy_words`).

    Layout like CLIP's: characters, characters + ``</w>``, merged tokens in merge order, then
    ``<|startoftext|>`` and ``<|endoftext|>`` last (so end-of-text has the largest id, which CLIP's legacy
    argmax pooling relies on).
    """
    words = toy_words() if words is None else sorted({w.lower() for w in words})
    merges = learn_word_merges(words)
    vocab: dict[str, int] = {}
    for token in [*_BASE_CHARACTERS, *(c + END_OF_WORD for c in _BASE_CHARACTERS), *(a + b for a, b in merges)]:
        vocab.setdefault(token, len(vocab))
    vocab[BOS_TOKEN] = len(vocab)
    vocab[EOS_TOKEN] = len(vocab)
    return vocab, merges


def build_tokenizer(words: list[str] | None = None):
    """A `transformers.CLIPTokenizer` over the toy vocabulary (``model_max_length`` 32)."""
    from transformers import CLIPTokenizer

    vocab, merges = build_vocab(words)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MODEL_MAX_LENGTH)


def save_tokenizer(directory: str | os.PathLike, words: list[str] | None = None):
    """Write the toy tokenizer to ``directory`` (tokenizer.json, tokenizer_config.json, vocab.json, merges.txt)."""
    tokenizer = build_tokenizer(words)
    tokenizer.save_pretrained(directory)
    vocab, merges = build_vocab(words)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return tokenizer
