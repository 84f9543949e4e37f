import json
import os
import re

from transformers import AutoTokenizer, CLIPConfig, CLIPTokenizer

from hfvideoclip.text.templates import KINETICS_TEMPLATES
from hfvideoclip.toy import toy_clip_path
from hfvideoclip.toy.tokenizer import EOS_TOKEN, build_vocab, save_tokenizer, toy_words
from hfvideoclip.toy.world import MOTIONS, PALETTE, motion_shape_name


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[^\sa-z]", text.lower())


def test_every_toy_and_template_word_is_one_token():
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    template_words = {w for t in KINETICS_TEMPLATES for w in re.findall(r"[a-z]+", t)}
    vocabulary = set(toy_words())
    assert template_words <= vocabulary
    assert set(PALETTE) <= vocabulary
    for word in sorted(vocabulary) + ["."]:
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, word


def test_round_trip():
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    texts = [t.format(motion_shape_name("crescent", m)) for t, m in zip(KINETICS_TEMPLATES, MOTIONS)]
    texts += ["a red circle", "A Photo of a  Blue star."]
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        assert words(tokenizer.decode(ids, skip_special_tokens=True)) == words(text)
        assert tokenizer.unk_token_id not in ids[1:-1]


def test_unknown_words_fall_back_to_characters():
    tokenizer = CLIPTokenizer.from_pretrained(toy_clip_path())
    ids = tokenizer("a zebra!", add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == "a zebra !"


def test_shipped_tokenizer_matches_the_builder_and_the_model(tmp_path):
    vocab, merges = build_vocab()
    shipped = json.load(open(os.path.join(toy_clip_path(), "vocab.json")))
    assert shipped == vocab
    assert vocab[EOS_TOKEN] == max(vocab.values())  # CLIP's argmax pooling finds end-of-text
    config = CLIPConfig.from_pretrained(toy_clip_path())
    assert config.text_config.vocab_size == len(vocab)
    assert config.text_config.eos_token_id == vocab[EOS_TOKEN]

    save_tokenizer(tmp_path)
    assert {"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"} <= set(os.listdir(tmp_path))
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(loaded).__name__ == "CLIPTokenizer"
    assert loaded.model_max_length == 32
    assert loaded("a red circle.")["input_ids"] == CLIPTokenizer.from_pretrained(toy_clip_path())(
        "a red circle.")["input_ids"]
    with open(tmp_path / "merges.txt") as f:
        assert f.readline().startswith("#version") and len(f.readlines()) == len(merges)
