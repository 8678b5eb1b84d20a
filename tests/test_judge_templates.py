"""Judge templates: loading, validation, rendering and identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.judging.parse import parse_verdict
from evalkit.judging.templates import JudgeTemplate, available_templates, load_template
from evalkit.resources import data_dir

SHIPPED = ["graded", "pairwise", "pairwise_logprob"]
MULTITURN = ["pairwise_conversation", "pairwise_multiturn"]  # two whole conversations

SINGLE = ({"role": "user", "content": "What is the capital of France?"},)
MULTI = (
    {"role": "user", "content": "Give me a haiku about rain."},
    {"role": "assistant", "content": "Soft rain on tin roofs"},
    {"role": "user", "content": "Now make it about snow."},
)

MINIMAL = '''\
name = "mine"
format = "pairwise"
user = """Q: {conversation}
1: {answer_a}
2: {answer_b}
{reference_block}"""
reference_block = "Ref: {reference}"
'''


def _user_text(messages: list[dict[str, str]]) -> str:
    assert messages[-1]["role"] == "user"
    return messages[-1]["content"]


def _write(tmp_path: Path, text: str, name: str = "judge.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _assert_one_line_config_error(exc: pytest.ExceptionInfo[ConfigError], path: Path) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_available_templates_lists_the_shipped_ones() -> None:
    assert available_templates() == sorted(SHIPPED + MULTITURN)  # rubrics are not listed


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_load(name: str) -> None:
    template = load_template(name)
    assert template.name == name
    assert template.format == ("pairwise" if name == "pairwise_logprob" else name)
    assert template.system.strip()
    assert Path(template.source) == data_dir("judges") / f"{name}.toml"
    assert len(template.text_hash) == 32


def test_shipped_templates_ask_for_their_own_verdict_tokens() -> None:
    pairwise, graded = load_template("pairwise"), load_template("graded")
    for token in ("[[A]]", "[[B]]", "[[C]]"):
        assert token in pairwise.system
    for token in ("[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]"):
        assert token in graded.system
    assert pairwise.text_hash != graded.text_hash


@pytest.mark.parametrize("name", SHIPPED)
def test_render_single_turn(name: str) -> None:
    template = load_template(name)
    out = template.render(SINGLE, "Paris.", "Lyon.", None)
    assert [m["role"] for m in out] == ["system", "user"]
    assert out[0]["content"] == template.system
    user = _user_text(out)
    assert "What is the capital of France?" in user
    assert "###" not in user  # a lone user message is shown as plain text
    assert user.index("Paris.") < user.index("Lyon.")
    assert "reference" not in user.lower()
    for placeholder in ("{conversation}", "{answer_a}", "{answer_b}", "{reference_block}"):
        assert placeholder not in user


@pytest.mark.parametrize("name", SHIPPED)
def test_render_multi_turn_marks_the_final_user_turn(name: str) -> None:
    template = load_template(name)
    user = _user_text(template.render(MULTI, "Snow on pine", "White silence", None))
    first = user.index("### User:\nGive me a haiku about rain.")
    second = user.index("### Assistant:\nSoft rain on tin roofs")
    final_header = user.index("### User (last message")
    final = user.index("Now make it about snow.")
    assert first < second < final_header < final < user.index("Snow on pine")
    # only the last turn is marked as the one being answered
    assert user.count("last message, the one both replies answer") == 1
    assert user.index("Snow on pine") < user.index("White silence")


@pytest.mark.parametrize("name", SHIPPED)
def test_reference_block_only_with_reference(name: str) -> None:
    template = load_template(name)
    with_ref = _user_text(template.render(SINGLE, "Paris.", "Lyon.", "Paris"))
    assert "<reference_answer>\nParis\n</reference_answer>" in with_ref
    assert with_ref.index("<reference_answer>") < with_ref.index("Paris.")
    for reference in (None, "", "  \n"):
        without = _user_text(template.render(SINGLE, "Paris.", "Lyon.", reference))
        assert "reference_answer" not in without
        assert "{reference" not in without


@pytest.mark.parametrize("name", SHIPPED)
def test_braces_and_placeholders_in_inputs_are_verbatim(name: str) -> None:
    template = load_template(name)
    answer_a = 'Use {"key": {value}} and then {answer_b} or {reference_block} {0} {}'
    answer_b = "B says {answer_a} and {conversation}"
    prompt = ({"role": "user", "content": "Format {x} with {answer_a}?"},)
    reference = "ref {reference} {answer_b}"
    user = _user_text(template.render(prompt, answer_a, answer_b, reference))
    assert answer_a in user
    assert answer_b in user
    assert "Format {x} with {answer_a}?" in user
    assert "ref {reference} {answer_b}" in user
    assert user.count(answer_a) == 1
    assert user.count(answer_b) == 1


def test_render_omits_an_empty_system_message(tmp_path: Path) -> None:
    template = load_template(str(_write(tmp_path, MINIMAL)))
    out = template.render(SINGLE, "x", "y", "z")
    assert out == [{
        "role": "user",
        "content": "Q: What is the capital of France?\n1: x\n2: y\nRef: z",
    }]


def test_braces_in_template_text_are_kept(tmp_path: Path) -> None:
    text = MINIMAL.replace("Q: {conversation}", 'Q: {conversation} {"json": {}} {other}')
    template = load_template(str(_write(tmp_path, text)))
    user = _user_text(template.render(SINGLE, "x", "y", None))
    assert user.startswith('Q: What is the capital of France? {"json": {}} {other}\n')


def test_render_rejects_an_empty_conversation() -> None:
    with pytest.raises(ValueError):
        load_template("pairwise").render((), "a", "b", None)


def test_text_hash_follows_the_text(tmp_path: Path) -> None:
    original = data_dir("judges") / "pairwise.toml"
    text = original.read_text(encoding="utf-8")
    copy = load_template(str(_write(tmp_path, text, "copy.toml")))
    assert copy.text_hash == load_template("pairwise").text_hash
    edited_text = text.replace("Compare the two replies", "Carefully compare the two replies")
    assert edited_text != text
    edited = load_template(str(_write(tmp_path, edited_text, "edited.toml")))
    assert edited.text_hash != copy.text_hash
    assert edited.source == str(tmp_path / "edited.toml")


def test_load_by_path_without_toml_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL, "judge.txt")
    assert load_template(str(path)).name == "mine"


def test_unknown_name_lists_available_templates() -> None:
    with pytest.raises(ConfigError) as exc:
        load_template("no_such_judge")
    message = str(exc.value)
    assert "\n" not in message
    assert "no_such_judge.toml" in message
    assert "graded, pairwise" in message


def test_missing_file_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as exc:
        load_template(str(path))
    assert "not found" in _assert_one_line_config_error(exc, path)


BAD_FILES = [
    ("name = \"x\"\nformat = \"pairwise\"\nuser = \n", "invalid TOML"),
    ("name = \"x\"\nformat = \"pairwise\"\nuser = \"{conversation}\"\n[oops\n", "line"),
    ("name = \"x\"\nformat = \"pairwise\"\n", "missing key 'user'"),
    (MINIMAL.replace('name = "mine"\n', ""), "missing key 'name'"),
    (MINIMAL.replace('format = "pairwise"', 'format = "likert"'), "unknown format 'likert'"),
    (MINIMAL.replace('format = "pairwise"', "format = 3"), "must be a string"),
    (MINIMAL + 'usr = "typo"\n', "unknown key 'usr'"),
    (MINIMAL.replace("2: {answer_b}", "2:"), "{answer_b}"),
    (MINIMAL.replace("Ref: {reference}", "Ref:"), "{reference}"),
    (MINIMAL.replace("\n{reference_block}", ""), "{reference_block}"),
    (MINIMAL + 'system = "Judge {answer_a}"\n', "only filled in 'user'"),
    (MINIMAL + 'conversation_turn = "{role}:"\n', "{content}"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_files_raise_one_line_config_errors(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_template(str(path))
    assert expected in _assert_one_line_config_error(exc, path)


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "judge.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(ConfigError) as exc:
        load_template(str(path))
    assert "UTF-8" in _assert_one_line_config_error(exc, path)


def test_directory_path_is_not_a_template(tmp_path: Path) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as exc:
        load_template(str(folder))
    assert "not a file" in _assert_one_line_config_error(exc, folder)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match="unknown format"):
        JudgeTemplate(name="x", format="likert", system="", user="{conversation}")


@pytest.mark.parametrize("name", SHIPPED)
def test_rendered_prompt_alone_parses_as_invalid(name: str) -> None:
    # The verdict instructions list every token on one line, so a judge that merely echoes
    # the prompt back is not mistaken for one that decided.
    template = load_template(name)
    user = _user_text(template.render(SINGLE, "a", "b", None))
    assert parse_verdict(user, template.format).label == "invalid"
