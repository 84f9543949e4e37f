"""Descriptor generation: the papers' queries, the answer parser, the template fallback, a tiny random causal LM
end to end through the recipe, and the recipe's flags."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hfvideoclip.text.descriptor_generation import (
    FALLBACK_TEMPLATES,
    QUERIES,
    GenerationRecord,
    TransformersGenerator,
    build_query,
    generate_descriptions,
    main,
    parse_description,
    parse_list,
    protocol_class_names,
    template_texts,
)
from hfvideoclip.text.descriptors import load_class_names, load_descriptions

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["abseiling", "ski jumping", "a star moving left"]


# --------------------------------------------------------------------------------------------------- queries


def test_queries_are_the_papers_wording():
    assert QUERIES[("ost", "spatial")] == ("Please give me a long list of descriptors for action: {cls}, {n} "
                                           "descriptors in total.")  # OST Sec. 3.2, Eq. 6
    assert QUERIES[("ost", "temporal")] == ("Please give me a long list of decompositions of steps for action: {cls}, "
                                            "{n} steps in total")  # OST Sec. 3.2, Eq. 7
    assert QUERIES[("msta", "spatial")] == ("Please give me {n} sentences describing the visual appearance of the "
                                            "action {cls}")  # MSTA Sec. 3.3
    assert QUERIES[("msta", "temporal")] == ("Please give me {n} sentences describing the temporally decoupled steps "
                                             "of the action {cls}")
    assert QUERIES[("froster", "description")] == "Please describe this action in the video [{cls}]"  # FROSTER Sec. 4
    assert build_query("ost", "spatial", "ski jumping", 4) == ("Please give me a long list of descriptors for action: "
                                                               "ski jumping, 4 descriptors in total.")
    assert build_query("froster", "description", "brushing teeth", 1) == ("Please describe this action in the video "
                                                                          "[brushing teeth]")
    with pytest.raises(ValueError, match="kinds \\['spatial', 'temporal'\\], not 'description'"):
        build_query("ost", "description", "x", 1)


# --------------------------------------------------------------------------------------------------- parsing

SKI = ["Ski ramp", "Snow-covered mountain", "Ski jumper in mid-air", "Ski jumper in a graceful pose"]


@pytest.mark.parametrize("answer", [
    "1. Ski ramp\n2. Snow-covered mountain\n3. Ski jumper in mid-air\n4. Ski jumper in a graceful pose",
    "Here are 4 descriptors for action: ski jumping:\n\n1) Ski ramp\n2) Snow-covered mountain.\n3) Ski jumper in "
    "mid-air\n4) Ski jumper in a graceful pose.\n\nI hope this helps!",
    "- Ski ramp\n- Snow-covered mountain\n* Ski jumper in mid-air\n• Ski jumper in a graceful pose",
    '"Ski ramp",\n"Snow-covered mountain",\n"Ski jumper in mid-air",\n"Ski jumper in a graceful pose"',
    'Sure! Here is the list: ["Ski ramp", "Snow-covered mountain", "Ski jumper in mid-air", '
    '"Ski jumper in a graceful pose"]',
    "Ski ramp, Snow-covered mountain, Ski jumper in mid-air, and Ski jumper in a graceful pose.",
    "1. Ski ramp 2. Snow-covered mountain 3. Ski jumper in mid-air 4. Ski jumper in a graceful pose",
    "(1) **Ski ramp**\n(2) **Snow-covered mountain**\n(3) `Ski jumper in mid-air`\n(4) “Ski jumper in a graceful pose”",
    "### Descriptors\n\n1. Ski ramp\n\n2. Snow-covered mountain\n   \n3. Ski jumper in mid-air\n4. Ski jumper in a "
    "graceful pose\n5. Ski ramp\n6. ski RAMP",
    "Ski ramp\nSnow-covered mountain\n\nSki jumper in mid-air\nSki jumper in a graceful pose\n",
    "a) Ski ramp\nb) Snow-covered mountain\nc) Ski jumper in mid-air\nd) Ski jumper in a graceful pose",
])
def test_parse_list_messy_answers(answer):
    assert parse_list(answer) == SKI


@pytest.mark.parametrize("answer, expected", [
    ("Step 1: Prepare for the jump.\nStep 2: Start the approach.\nStep 3 - Take off from the ramp",
     ["Prepare for the jump", "Start the approach", "Take off from the ramp"]),
    ("A skier waits at the top. The skier speeds down the ramp! Then flies.",
     ["A skier waits at the top", "The skier speeds down the ramp!", "Then flies"]),
    ("snow; ramp; skis", ["snow", "ramp", "skis"]),
    ("bow and arrow, target", ["bow and arrow", "target"]),
    ("1. 2 people talking\n2. 3D glasses", ["2 people talking", "3D glasses"]),
    ("1. Snow\n2. snow.\n3. SNOW\n4. 'snow'", ["Snow"]),
    ("1. -\n2. \n3. ramp\n4. ???", ["ramp"]),
    ("Certainly! Here are some descriptors:\n", []),
    ("", []),
])
def test_parse_list_cases(answer, expected):
    assert parse_list(answer) == expected


def test_parse_list_trims_to_n():
    assert parse_list("1. a\n2. b\n3. c", n=2) == ["a", "b"]


def test_parse_description():
    answer = ("Sure! Here is a description:\n\nBrushing teeth: The video teaches the process of brushing teeth, which "
              "involves using a toothbrush.\n\nLet me know if you need more.")
    assert parse_description(answer, "brushing teeth") == ("The video teaches the process of brushing teeth, which "
                                                           "involves using a toothbrush")
    assert parse_description('"A person descends a cliff on a rope."') == "A person descends a cliff on a rope"
    assert parse_description("\n  \nOf course!\n") == ""
    assert parse_description("Sure! The video shows archery.", "archery") == "The video shows archery"
    assert parse_description("**Description**: The video shows archery.") == "The video shows archery"


# -------------------------------------------------------------------------------------------------- fallback


def test_template_fallback_is_deterministic_and_distinct():
    for (method, kind) in FALLBACK_TEMPLATES:
        texts = template_texts(method, kind, "a star moving left", 20)
        assert texts == template_texts(method, kind, "a star moving left", 20)
        assert len(texts) == 20 and len({text.lower() for text in texts}) == 20
        assert all("a star moving left" in text for text in texts)
    assert template_texts("ost", "spatial", "archery", 2) == ["archery", "a scene with archery"]
    assert template_texts("ost", "temporal", "archery", 9)[-1] == "the first frames of archery (2)"


@pytest.mark.parametrize("method, kind, n", [("ost", "spatial", 4), ("ost", "temporal", 4), ("msta", "spatial", 2),
                                             ("msta", "temporal", 2), ("froster", "description", 1)])
def test_generate_without_model_uses_templates(method, kind, n):
    descriptions = generate_descriptions(NAMES, method, kind)  # default counts: the papers'
    assert descriptions.counts == [n] * 3 and descriptions.class_names == NAMES
    assert descriptions.per_class == generate_descriptions(NAMES, method, kind).per_class
    if method == "froster":
        assert descriptions.per_class[2] == ["A star moving left: The video shows a star moving left"]


def test_generate_parses_pads_and_trims():
    answers = {0: "1. climber\n2. rope\n3. harness\n4. mountain\n5. cliff",  # too many: cut
               1: "Here you go:\n- ski ramp\n- ski ramp\n- snow",  # too few after de-duplication: padded
               2: "!!! ..."}  # nothing usable: padded entirely
    queries = []

    def fake(batch):
        queries.extend(batch)
        return [answers[index] for index in range(len(batch))]

    record = GenerationRecord()
    descriptions = generate_descriptions(NAMES, "ost", "spatial", 4, fake, record=record)
    assert queries[1] == "Please give me a long list of descriptors for action: ski jumping, 4 descriptors in total."
    assert descriptions.per_class[0] == ["climber", "rope", "harness", "mountain"]
    assert descriptions.per_class[1] == ["ski ramp", "snow", "ski jumping", "a scene with ski jumping"]
    assert descriptions.counts == [4, 4, 4] and record.padded == {1: 2, 2: 4}
    assert descriptions.per_class[2] == template_texts("ost", "spatial", "a star moving left", 4)
    assert record.answers == [answers[0], answers[1], answers[2]]


def test_generate_pads_without_repeating_model_items():
    descriptions = generate_descriptions(["archery"], "ost", "spatial", 3, lambda batch: ["1. archery\n2. bow"])
    assert descriptions.per_class == [["archery", "bow", "a scene with archery"]]


def test_generate_froster_entries():
    answers = ["Abseiling: This video shows the process of abseiling.", "", "The video shows a star moving left."]
    descriptions = generate_descriptions(NAMES, "froster", "description", generator=lambda batch: answers)
    assert descriptions.one_per_class() == ["Abseiling: This video shows the process of abseiling",
                                            "Ski jumping: The video shows ski jumping",
                                            "A star moving left: The video shows a star moving left"]


def test_generate_errors():
    with pytest.raises(ValueError, match="exactly 1 description"):
        generate_descriptions(NAMES, "froster", "description", 2)
    with pytest.raises(ValueError, match="returned 1 answers for 3 queries"):
        generate_descriptions(NAMES, "ost", "spatial", 4, lambda batch: ["x"])
    with pytest.raises(ValueError, match="empty"):
        generate_descriptions([], "ost", "spatial")


# ----------------------------------------------------------------------------------------- a tiny causal LM

WORDS = ("please give me a long list of descriptors for action : , . 1 2 3 4 - * star circle red moving left ski "
         "jumping ramp snow abseiling in total steps decompositions sentences describing the visual appearance "
         "temporally decoupled describe this video [ ] user assistant system").split()


def _tiny_lm(directory: Path, chat_template: str | None = None) -> Path:
    """A random 2-layer GPT-2 and a word-level tokenizer built offline, saved like any Hub model folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(dict.fromkeys(["<unk>", "<pad>", "<eos>", *WORDS]))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<eos>")
    if chat_template:
        tokenizer.chat_template = chat_template
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocab), n_positions=128, n_embd=32, n_layer=2, n_head=2, bos_token_id=2,
                        eos_token_id=2, pad_token_id=1)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


CHAT = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant :{% endif %}")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return _tiny_lm(tmp_path_factory.mktemp("tiny_lm"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_transformers_generator_prompt_format(tmp_path, tiny_lm):
    plain = TransformersGenerator.from_pretrained(str(tiny_lm), local_files_only=True, max_new_tokens=4)
    assert plain.format_prompt("describe ski jumping") == "describe ski jumping\n"
    chat_dir = _tiny_lm(tmp_path / "chat", CHAT)
    chat = TransformersGenerator.from_pretrained(str(chat_dir), local_files_only=True, max_new_tokens=4,
                                                 system_prompt="be brief")
    assert chat.format_prompt("describe ski jumping") == ("system : be brief\nuser : describe ski jumping\n"
                                                          "assistant :")
    answers = chat(["describe ski jumping", "describe abseiling please", "star"])
    assert len(answers) == 3 and all(isinstance(answer, str) for answer in answers)
    assert plain.tokenizer.padding_side == "left"


def test_transformers_generator_is_greedy_and_batch_independent(tiny_lm):
    generator = TransformersGenerator.from_pretrained(str(tiny_lm), local_files_only=True, max_new_tokens=8,
                                                      batch_size=2)
    queries = ["please describe ski jumping", "star", "a long list of descriptors for action : abseiling"]
    answers = generator(queries)
    assert answers == generator(queries)
    assert [generator([query])[0] for query in queries] == answers  # left padding does not change answers


def _recipe_files(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def test_recipe_with_tiny_model_end_to_end(tmp_path, tiny_lm):
    names = tmp_path / "classes.csv"
    names.write_text("id,name\n0,abseiling\n1,ski jumping\n2,a star moving left\n")
    runs = []
    for run in ("a", "b"):
        output = tmp_path / run
        flags = ["--kind", "ost", "--class_names", str(names), "--model", str(tiny_lm), "--local_files_only",
                 "--max_new_tokens", "16", "--output_dir", str(output)]
        assert main(flags) == 0
        runs.append(_recipe_files(output))
    assert runs[0] == runs[1]  # byte-identical: greedy decoding, no timestamps
    assert sorted(runs[0]) == ["class_names.json", "completions.json", "generation.json", "spatial.json",
                               "temporal.json"]
    output = tmp_path / "a"
    class_names = load_class_names(output / "class_names.json")
    assert class_names == NAMES
    for kind in ("spatial", "temporal"):
        descriptions = load_descriptions(output / f"{kind}.json", 3, format="ost", expected_per_class=4,
                                         class_names=class_names)
        assert descriptions.kind == kind and descriptions.counts == [4, 4, 4]
    info = json.loads(runs[0]["generation.json"])
    assert info["source"] == "model" and info["num_descriptors"] == 4 and info["model"] == str(tiny_lm)
    assert info["queries"]["temporal"] == QUERIES[("ost", "temporal")]
    assert set(json.loads(runs[0]["completions.json"])) == {"spatial", "temporal"}


@pytest.mark.parametrize("kind, files, n", [("msta", ["spatial.json", "temporal.json"], 2),
                                            ("froster", ["descriptions.json"], 1)])
def test_recipe_with_tiny_chat_model_other_methods(tmp_path, kind, files, n):
    model = _tiny_lm(tmp_path / "chat", CHAT)
    names = tmp_path / "classes.txt"
    names.write_text("\n".join(NAMES) + "\n")
    main(["--kind", kind, "--class_names", str(names), "--model", str(model), "--local_files_only",
          "--max_new_tokens", "12", "--output_dir", str(tmp_path / "out")])
    for name in files:
        descriptions = load_descriptions(tmp_path / "out" / name, 3, format=kind, kind=None if kind == "froster"
                                         else name.split(".")[0], expected_per_class=n, class_names=NAMES)
        assert descriptions.counts == [n] * 3


def test_recipe_template_fallback_and_flags(tmp_path, capsys):
    names = tmp_path / "classes.json"
    names.write_text(json.dumps({"0": "abseiling", "1": "ski jumping"}))
    base = ["--class_names", str(names), "--output_dir", str(tmp_path / "out")]
    assert main([*base, "--kind", "msta", "--fallback", "template", "--num_descriptors", "3"]) == 0
    spatial = load_descriptions(tmp_path / "out" / "spatial.json", 2, format="msta", expected_per_class=3)
    assert spatial.per_class[1] == template_texts("msta", "spatial", "ski jumping", 3)
    info = json.loads((tmp_path / "out" / "generation.json").read_text())
    assert info["source"] == "template" and not (tmp_path / "out" / "completions.json").exists()
    assert main([*base, "--kind", "msta", "--fallback", "template"]) == 2  # input errors: one line, exit 2
    assert "already exist; pass overwrite=True" in capsys.readouterr().err
    assert main([*base, "--kind", "msta", "--fallback", "template", "--overwrite"]) == 0
    assert main([*base, "--model", "x", "--fallback", "template"]) == 2
    assert "Choose one source" in capsys.readouterr().err
    for argv, message in ((base, "Choose one source"),
                          (["--output_dir", str(tmp_path), "--fallback", "template"],
                           "exactly one of --class_names FILE and --protocol NAME"),
                          ([*base, "--fallback", "template", "--split", "0"], "need --protocol"),
                          ([*base, "--fallback", "template", "--kind", "clip"], "--kind 'clip'"),
                          ([*base, "--model", "x", "--temperature", "0.7"], "only applies with --do_sample")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1


def test_protocol_vocabulary_without_rendering(tmp_path):
    everything = protocol_class_names("toy-b2n")
    train = protocol_class_names("toy-b2n", split=0, eval_set="train")
    novel = protocol_class_names("toy-b2n", split=0, eval_set="novel")
    assert train and novel and not set(train) & set(novel) and set(train) | set(novel) <= set(everything)
    assert all(name.startswith("a ") for name in everything)
    with pytest.raises(ValueError, match="has no set 'test'"):
        protocol_class_names("toy-b2n", eval_set="test")
    with pytest.raises(ValueError, match="--split must be in 0..2"):
        protocol_class_names("toy-b2n", split=3)
    output = tmp_path / "toy"
    main(["--kind", "froster", "--protocol", "toy-b2n", "--split", "0", "--protocol_set", "train", "--fallback",
          "template", "--output_dir", str(output), "--cache_dir", str(tmp_path / "cache")])
    assert load_class_names(output / "class_names.json") == train
    load_descriptions(output / "descriptions.json", format="froster", class_names=train)
    assert not (tmp_path / "cache").exists()  # nothing rendered


def test_recipe_script_runs(tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("abseiling\nski jumping\n")
    done = subprocess.run([sys.executable, str(ROOT / "recipes" / "generate_descriptors.py"), "--kind", "ost",
                           "--class_names", str(names), "--fallback", "template", "--output_dir", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "spatial.json" in done.stdout and (tmp_path / "o" / "temporal.json").is_file()


def test_fallback_words_are_in_the_toy_vocabulary():
    """The toy CLIP embeds the fallback texts word by word (its word-level tokenizer knows every word)."""
    import re

    from hfvideoclip.toy.tokenizer import toy_words

    known = set(toy_words())
    unknown = {word for templates in FALLBACK_TEMPLATES.values() for template in templates
               for word in re.findall(r"[a-z]+", template.replace("{cls}", "").lower()) if word not in known}
    assert not unknown
