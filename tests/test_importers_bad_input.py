"""Bad input to the AlpacaEval, Arena-Hard and MT-Bench importers: each case names its file,
line and field on one line (the files are built as in test_importers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_importers import (
    arena_v2_files,
    mt_bench_files,
    read_jsonl,
    write_json,
    write_jsonl,
)

from evalkit.errors import InputError
from evalkit.importers.alpaca_eval import read_alpaca_eval
from evalkit.importers.arena_hard import read_arena_hard
from evalkit.importers.mt_bench import read_mt_bench


def _bad_alpaca(tmp_path: Path, case: str) -> tuple[Any, Path, int | None, str | None]:
    good = {"instruction": "Say hi.", "output": "hi", "generator": "m"}
    ann = {"instruction": "Say hi.", "output_1": "hello", "generator_1": "ref", "output_2": "hi",
           "generator_2": "m", "annotator": "gpt4", "preference": 1.0}
    outputs = tmp_path / "model_outputs.json"
    annotations = tmp_path / "annotations.json"
    write_json(outputs, [good])
    if case == "syntax":
        outputs.write_text('[\n  {"instruction": "Say hi.",\n   "output" "hi"}\n]\n')
        return lambda: read_alpaca_eval([outputs]), outputs, 3, None
    if case == "missing output":
        write_json(outputs, [good, {"instruction": "Other.", "generator": "m"}])
        return lambda: read_alpaca_eval([outputs]), outputs, 2, "output"
    if case == "generator not a string":
        write_json(outputs, [{**good, "generator": 7}])
        return lambda: read_alpaca_eval([outputs]), outputs, 1, "generator"
    if case == "not an array":
        write_json(outputs, {"instruction": "Say hi."})
        return lambda: read_alpaca_eval([outputs]), outputs, None, None
    if case == "preference text":
        write_json(annotations, [ann, {**ann, "preference": "first"}])
        return lambda: read_alpaca_eval([outputs], annotations), annotations, 2, "preference"
    if case == "preference out of range":
        write_json(annotations, [{**ann, "preference": 3}])
        return lambda: read_alpaca_eval([outputs], annotations), annotations, 1, "preference"
    raise AssertionError(case)


def _bad_arena(tmp_path: Path, case: str) -> tuple[Any, Path, int | None, str | None]:
    q_file, a_files, j_files = arena_v2_files(tmp_path)
    rows = read_jsonl(a_files[1])
    judgments = read_jsonl(j_files[0])
    if case == "question JSON":
        q_file.write_text(q_file.read_text().replace('"uid": "u001"', '"uid" "u001"'))
        return lambda: read_arena_hard(q_file, a_files), q_file, 2, None
    if case == "answer without messages":
        del rows[2]["messages"]
        write_jsonl(a_files[1], rows)
        return lambda: read_arena_hard(q_file, a_files), a_files[1], 3, "messages"
    if case == "answer text not a string":
        rows[0]["messages"][-1]["content"]["answer"] = ["x"]
        write_jsonl(a_files[1], rows)
        return (lambda: read_arena_hard(q_file, a_files), a_files[1], 1,
                "messages[-1].content.answer")
    if case == "games not a list":
        judgments[1]["games"] = "A>B"
        write_jsonl(j_files[0], judgments)
        return lambda: read_arena_hard(q_file, a_files, j_files), j_files[0], 2, "games"
    if case == "unknown uid":
        judgments[2]["uid"] = "nope"
        write_jsonl(j_files[0], judgments)
        return lambda: read_arena_hard(q_file, a_files, j_files), j_files[0], 3, "uid"
    if case == "baseline without answers":
        return lambda: read_arena_hard(q_file, a_files[1:], j_files), j_files[0], 1, "baseline"
    raise AssertionError(case)


def _bad_mt(tmp_path: Path, case: str) -> tuple[Any, Path, int | None, str | None]:
    q_file, a_files, j_files, refs = mt_bench_files(tmp_path)
    questions, answers, judgments = read_jsonl(q_file), read_jsonl(a_files[0]), read_jsonl(
        j_files[0])
    if case == "question id boolean":
        questions[1]["question_id"] = True
        write_jsonl(q_file, questions)
        return lambda: read_mt_bench(q_file), q_file, 2, "question_id"
    if case == "turns missing":
        del questions[0]["turns"]
        write_jsonl(q_file, questions)
        return lambda: read_mt_bench(q_file), q_file, 1, "turns"
    if case == "answer turn not a string":
        answers[1]["choices"][0]["turns"][0] = 42
        write_jsonl(a_files[0], answers)
        return lambda: read_mt_bench(q_file, a_files), a_files[0], 2, "choices[0].turns[0]"
    if case == "unknown winner":
        judgments[2]["g2_winner"] = "model_3"
        write_jsonl(j_files[0], judgments)
        return lambda: read_mt_bench(q_file, a_files, j_files), j_files[0], 3, "g2_winner"
    if case == "turn missing":
        del judgments[0]["turn"]
        write_jsonl(j_files[0], judgments)
        return lambda: read_mt_bench(q_file, a_files, j_files), j_files[0], 1, "turn"
    if case == "judge not a pair":
        judgments[3]["judge"] = "gpt-4"
        write_jsonl(j_files[0], judgments)
        return lambda: read_mt_bench(q_file, a_files, j_files), j_files[0], 4, "judge"
    if case == "reference for unknown question":
        write_jsonl(refs, [{**read_jsonl(refs)[0], "question_id": 999}])
        return lambda: read_mt_bench(q_file, reference_file=refs), refs, 1, "question_id"
    raise AssertionError(case)


BAD_CASES = (
    [("alpaca", c) for c in ("syntax", "missing output", "generator not a string",
                             "not an array", "preference text", "preference out of range")]
    + [("arena", c) for c in ("question JSON", "answer without messages",
                              "answer text not a string", "games not a list", "unknown uid",
                              "baseline without answers")]
    + [("mt", c) for c in ("question id boolean", "turns missing", "answer turn not a string",
                           "unknown winner", "turn missing", "judge not a pair",
                           "reference for unknown question")]
)


@pytest.mark.parametrize(("fmt", "case"), BAD_CASES, ids=[f"{f}: {c}" for f, c in BAD_CASES])
def test_bad_input_names_file_line_and_field_on_one_line(tmp_path: Path, fmt: str,
                                                         case: str) -> None:
    build = {"alpaca": _bad_alpaca, "arena": _bad_arena, "mt": _bad_mt}[fmt]
    call, path, line, field = build(tmp_path, case)
    with pytest.raises(InputError) as err:
        call()
    e = err.value
    assert (e.path, e.line, e.field) == (str(path), line, field)
    text = str(e)
    assert "\n" not in text
    assert text.startswith(str(path) + (f":{line}: " if line is not None else ": "))
    if field is not None:
        assert f"field '{field}'" in text


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "question.jsonl"
    for call in (lambda: read_arena_hard(missing), lambda: read_mt_bench(missing),
                 lambda: read_alpaca_eval([missing])):
        with pytest.raises(InputError, match="file not found") as err:
            call()
        assert err.value.path == str(missing)
