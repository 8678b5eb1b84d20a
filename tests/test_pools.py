"""Tests for evalkit.pools: reading, validating and versioning prompt pools."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import csv  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from evalkit.errors import InputError  # noqa: E402
from evalkit.pools import (  # noqa: E402
    FieldMap,
    PoolPrompt,
    pool_version,
    read_pool,
    tag_names,
)

RLHF_POOL = Path(__file__).resolve().parents[1] / "suites" / "pools" / "rlhf_prompts.jsonl"


@pytest.fixture(autouse=True)
def _offline_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep `datasets` offline and its cache under tmp_path."""
    cache = tmp_path / "hf_cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    if "datasets" in sys.modules:
        monkeypatch.setattr(sys.modules["datasets"].config, "HF_DATASETS_CACHE", cache)
    yield


# --------------------------------------------------------------------------- helpers

def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """One JSON value per line; a str row is written verbatim."""
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def located(
    excinfo: pytest.ExceptionInfo[InputError], path: Path, line: int | None,
    field: str | None = None,
) -> str:
    """Assert the error's location and one-line form; return its text."""
    err, text = excinfo.value, str(excinfo.value)
    assert "\n" not in text
    assert (err.path, err.line, err.field) == (str(path), line, field)
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert text.startswith(where + (f"field '{field}': " if field else ""))
    return text


SAMPLE_ROWS: list[dict[str, Any]] = [
    {"id": "p1", "prompt": "What is 2+2?", "reference": "4", "tags": {"category": "math"}},
    {"id": "p2", "prompt": "Write a haiku.", "tags": {"category": "writing", "lang": "en"}},
    {"id": "p3", "messages": [user("Hi"), {"role": "assistant", "content": "Hello!"},
                              user("Tell me a joke.")]},
]

# Columnar formats take their schema from the first row: give every row every column.
COLUMNS = ("id", "prompt", "messages", "reference", "tags")
UNIFORM_ROWS = [{key: row.get(key) for key in COLUMNS} for row in SAMPLE_ROWS]

EXPECTED = [
    PoolPrompt("p1", (user("What is 2+2?"),), {"category": "math"}, "4"),
    PoolPrompt("p2", (user("Write a haiku."),), {"category": "writing", "lang": "en"}),
    PoolPrompt("p3", (user("Hi"), {"role": "assistant", "content": "Hello!"},
                      user("Tell me a joke."))),
]


# --------------------------------------------------------------------------- formats

def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", SAMPLE_ROWS)
    assert read_pool(path) == EXPECTED
    assert read_pool(str(path)) == EXPECTED


def test_jsonl_skips_blank_lines_bom_and_crlf(tmp_path: Path) -> None:
    body = "\r\n".join(json.dumps(r) for r in SAMPLE_ROWS[:2])
    path = tmp_path / "pool.json"
    path.write_bytes(b"\xef\xbb\xbf" + body.replace("\r\n", "\r\n  \r\n\r\n").encode() + b"\r\n")
    assert read_pool(path) == EXPECTED[:2]


def test_csv_round_trip(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [
        ["id", "prompt", "messages", "reference", "category"],
        ["p1", "What is 2+2?", "", "4", "math"],
        ["p2", "Line one,\nline \"two\"", "", "", ""],
        ["p3", "", json.dumps(SAMPLE_ROWS[2]["messages"]), "", "chat"],
    ])
    prompts = read_pool(path, FieldMap(tags=("category",)))
    assert prompts == [
        PoolPrompt("p1", (user("What is 2+2?"),), {"category": "math"}, "4"),
        PoolPrompt("p2", (user('Line one,\nline "two"'),)),
        PoolPrompt("p3", EXPECTED[2].messages, {"category": "chat"}),
    ]


def test_csv_tags_column_holds_json_object(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [
        ["id", "prompt", "tags"], ["a", "Hi", '{"category": "chat", "turns": 1}'],
    ])
    assert read_pool(path)[0].tags == {"category": "chat", "turns": "1"}


def test_parquet_round_trip_pandas(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "pool.parquet"
    pd.DataFrame([
        {"id": 1, "prompt": "What is 2+2?", "reference": "4", "category": "math"},
        {"id": 2, "prompt": "Write a haiku.", "reference": None, "category": None},
    ]).to_parquet(path)
    assert read_pool(path, FieldMap(tags=("category",))) == [
        PoolPrompt("1", (user("What is 2+2?"),), {"category": "math"}, "4"),
        PoolPrompt("2", (user("Write a haiku."),)),
    ]


def test_parquet_round_trip_pyarrow_nested(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "pool.parquet"
    pq.write_table(pa.Table.from_pylist(UNIFORM_ROWS), path)
    assert read_pool(path) == EXPECTED


def test_hf_dataset_round_trip(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "pool_ds"
    datasets.Dataset.from_list(UNIFORM_ROWS).save_to_disk(str(path))
    assert read_pool(path) == EXPECTED
    assert read_pool(path, fmt="hf") == EXPECTED


def test_hf_dataset_dict_split(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "pool_dd"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list(UNIFORM_ROWS[:2]),
        "test": datasets.Dataset.from_list([{"id": "t1", "prompt": "Test me"}]),
    }).save_to_disk(str(path))
    assert read_pool(path, split="train") == EXPECTED[:2]
    assert read_pool(path, split="test") == [PoolPrompt("t1", (user("Test me"),))]
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "test, train" in located(excinfo, path, None)
    with pytest.raises(InputError) as excinfo:
        read_pool(path, split="validation")
    assert "'validation'" in located(excinfo, path, None)


def test_explicit_format_overrides_suffix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.txt", SAMPLE_ROWS)
    assert read_pool(path, fmt="jsonl") == EXPECTED


# --------------------------------------------------------------------------- field mapping

def test_custom_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [
        {"uid": 7, "question": "Capital of France?", "answer": "Paris", "topic": "geo",
         "level": 3, "hard": True, "score": 0.5, "note": None},
    ])
    mapping = FieldMap(id="uid", prompt="question", reference="answer",
                       tags=("topic", "level", "hard", "score", "note"))
    assert read_pool(path, mapping) == [PoolPrompt(
        "7", (user("Capital of France?"),),
        {"topic": "geo", "level": "3", "hard": "true", "score": "0.5"}, "Paris",
    )]


def test_custom_messages_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": "c", "chat": [user("Yo")]}])
    assert read_pool(path, FieldMap(messages="chat"))[0].messages == (user("Yo"),)


def test_reference_none_ignores_reference_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": "a", "prompt": "Hi", "reference": 5}])
    assert read_pool(path, FieldMap(reference=None))[0].reference is None


def test_system_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [
        {"id": "a", "prompt": "Hi", "sys": "Be terse."},
        {"id": "b", "messages": [user("Hi")], "sys": "Be kind."},
        {"id": "c", "prompt": "Hi", "sys": None},
    ])
    a, b, c = read_pool(path, FieldMap(system="sys"))
    assert a.messages == ({"role": "system", "content": "Be terse."}, user("Hi"))
    assert b.messages == ({"role": "system", "content": "Be kind."}, user("Hi"))
    assert c.messages == (user("Hi"),)


def test_tags_object_and_tag_columns_merge(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [
        {"id": "a", "prompt": "Hi", "lang": "en",
         "tags": {"category": "chat", "n": 2, "ok": False, "skip": None}},
    ])
    assert read_pool(path, FieldMap(tags=("lang",)))[0].tags == {
        "category": "chat", "n": "2", "ok": "false", "lang": "en",
    }


def test_auto_id_is_prompt_hash_prefix(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"prompt": "Hi"}, {"messages": [user("Yo")]}])
    prompts = read_pool(path, FieldMap(id=None))
    assert [p.id for p in prompts] == [p.prompt_hash[:12] for p in prompts]
    assert all(len(p.id) == 12 for p in prompts)


def test_multi_turn_messages_keep_only_role_and_content(tmp_path: Path) -> None:
    chat = [
        {"role": "system", "content": "Be brief.", "name": "sys"},
        user("Hi"),
        {"role": "assistant", "content": "Hello.", "extra": 1},
        user("How are you?"),
    ]
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": "m", "messages": chat}])
    (prompt,) = read_pool(path)
    assert prompt.messages == (
        {"role": "system", "content": "Be brief."}, user("Hi"),
        {"role": "assistant", "content": "Hello."}, user("How are you?"),
    )
    assert all(type(m) is dict for m in prompt.messages)


# --------------------------------------------------------------------------- bad rows (JSONL)

GOOD = {"id": "ok", "prompt": "Fine."}
A_TURN = {"role": "assistant", "content": "Sure."}

BAD_ROWS: dict[str, tuple[list[Any], int, str | None, str]] = {
    # case: (rows, bad line, field, message fragment)
    "bad_json": ([GOOD, '{"id": "x", "prompt": }'], 2, None, "invalid JSON"),
    "not_an_object": (['["a", "b"]'], 1, None, "found array"),
    "missing_id": ([GOOD, {"prompt": "Hi"}], 2, "id", "missing field"),
    "missing_prompt": ([GOOD, {"id": "x"}], 2, "prompt", "missing field: need 'prompt' or 'messages'"),
    "empty_prompt": ([GOOD, {"id": "x", "prompt": ""}], 2, "prompt", "empty prompt"),
    "whitespace_prompt": ([{"id": "x", "prompt": " \t\n "}], 1, "prompt", "empty prompt"),
    "both_prompt_and_messages": (
        [GOOD, {"id": "x", "prompt": "Hi", "messages": [user("Hi")]}], 2, "prompt", "exactly one"),
    "id_as_list": ([{"id": ["x"], "prompt": "Hi"}], 1, "id", "wrong type: expected a string or int, found list"),
    "id_as_bool": ([{"id": True, "prompt": "Hi"}], 1, "id", "found bool"),
    "empty_id": ([{"id": " ", "prompt": "Hi"}], 1, "id", "empty id"),
    "prompt_as_number": ([{"id": "x", "prompt": 42}], 1, "prompt", "wrong type: expected a string, found int"),
    "reference_as_number": ([{"id": "x", "prompt": "Hi", "reference": 4}], 1, "reference", "found int"),
    "tag_as_list": ([{"id": "x", "prompt": "Hi", "tags": {"category": ["a"]}}], 1, "tags.category", "found list"),
    "tags_not_object": ([{"id": "x", "prompt": "Hi", "tags": ["a"]}], 1, "tags", "found list"),
    "messages_not_list": ([{"id": "x", "messages": "Hi"}], 1, "messages", "found str"),
    "messages_empty": ([{"id": "x", "messages": []}], 1, "messages", "empty message list"),
    "message_not_object": ([{"id": "x", "messages": ["Hi"]}], 1, "messages[0]", "found str"),
    "message_missing_role": ([{"id": "x", "messages": [{"content": "Hi"}]}], 1, "messages[0].role", "missing field"),
    "message_empty_content": (
        [{"id": "x", "messages": [{"role": "user", "content": "  "}]}], 1, "messages[0].content", "empty content"),
    "message_content_not_str": (
        [{"id": "x", "messages": [{"role": "user", "content": ["Hi"]}]}], 1, "messages[0].content", "found list"),
    "bad_role": ([{"id": "x", "messages": [{"role": "bot", "content": "Hi"}]}], 1, "messages[0].role", "unknown role 'bot'"),
    "not_ending_in_user": ([{"id": "x", "messages": [user("Hi"), A_TURN]}], 1, "messages[1].role", "must end with a 'user' turn"),
    "only_system": (
        [{"id": "x", "messages": [{"role": "system", "content": "S"}]}], 1, "messages[0].role", "must end with a 'user' turn"),
    "two_user_turns": ([{"id": "x", "messages": [user("a"), user("b")]}], 1, "messages[1].role", "alternate"),
    "starts_with_assistant": ([{"id": "x", "messages": [A_TURN, user("b")]}], 1, "messages[0].role", "expected role 'user', found 'assistant'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_jsonl_row(tmp_path: Path, case: str) -> None:
    rows, line, field, fragment = BAD_ROWS[case]
    path = write_jsonl(tmp_path / "pool.jsonl", rows)
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert fragment in located(excinfo, path, line, field)


def test_tag_column_as_dict(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": "x", "prompt": "Hi", "level": {"a": 1}}])
    with pytest.raises(InputError) as excinfo:
        read_pool(path, FieldMap(tags=("level",)))
    assert "wrong type" in located(excinfo, path, 1, "level")


def test_bad_system_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": "x", "prompt": "Hi", "sys": 1}])
    with pytest.raises(InputError) as excinfo:
        read_pool(path, FieldMap(system="sys"))
    located(excinfo, path, 1, "sys")


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [
        {"id": "a", "prompt": "One"}, {"id": "b", "prompt": "Two"}, "",
        {"id": "a", "prompt": "Three"},
    ])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "duplicate id 'a': first used at line 1" in located(excinfo, path, 4, "id")


def test_int_and_str_ids_collide(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [{"id": 1, "prompt": "A"}, {"id": "1", "prompt": "B"}])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "first used at line 1" in located(excinfo, path, 2, "id")


def test_auto_id_duplicate_prompt_names_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [
        {"prompt": "Same"}, {"prompt": "Other"}, {"messages": [user("Same")]},
    ])
    with pytest.raises(InputError) as excinfo:
        read_pool(path, FieldMap(id=None))
    assert "same messages as line 1" in located(excinfo, path, 3, "messages")


def test_jsonl_non_utf8(tmp_path: Path) -> None:
    first = json.dumps(GOOD).encode() + b"\n"
    second = b'{"id": "b", "prompt": "caf\xe9"}\n'
    path = tmp_path / "pool.jsonl"
    path.write_bytes(first + b"\n" + second)
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    offset = len(first) + 1 + second.index(b"\xe9")
    assert f"not valid UTF-8 at byte offset {offset}" in located(excinfo, path, 3)


# --------------------------------------------------------------------------- bad rows (CSV)

def test_csv_non_utf8_counts_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    path.write_bytes(b'id,prompt\na,"multi\nline"\nb,ok\nc,bad \xff byte\n')
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "not valid UTF-8 at byte offset" in located(excinfo, path, 5)


def test_csv_line_numbers_follow_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "pool.csv"
    path.write_text('id,prompt\na,"multi\nline"\n\nb,"  "\n', encoding="utf-8")
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "empty prompt" in located(excinfo, path, 5, "prompt")


def test_csv_empty_cell_is_missing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [["id", "prompt"], ["a", "Hi"], ["", "Yo"]])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "missing field" in located(excinfo, path, 3, "id")


def test_csv_bad_messages_json(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [["id", "messages"], ["a", "[{'role': 'user'}]"]])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "invalid JSON" in located(excinfo, path, 2, "messages")


def test_csv_wrong_cell_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [["id", "prompt"], ["a", "Hi", "extra"]])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "3 cells" in located(excinfo, path, 2, "column 3")


def test_csv_header_only_is_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "pool.csv", [["id", "prompt"]])
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "empty pool" in located(excinfo, path, None)


# --------------------------------------------------------------------------- bad rows (Parquet / datasets)

def test_parquet_errors_use_row_numbers(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "pool.parquet"
    pd.DataFrame({"id": ["a", "b", "a"], "prompt": ["x", "y", "z"]}).to_parquet(path)
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "first used at row 1" in located(excinfo, path, 3, "id")


def test_hf_dataset_errors_use_row_numbers(tmp_path: Path) -> None:
    import datasets

    path = tmp_path / "pool_ds"
    datasets.Dataset.from_list([{"id": "a", "prompt": "x"}, {"id": "b", "prompt": " "}]).save_to_disk(str(path))
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "empty prompt" in located(excinfo, path, 2, "prompt")


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "pool.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "cannot read Parquet" in located(excinfo, path, None)


def test_directory_that_is_not_a_dataset(tmp_path: Path) -> None:
    path = tmp_path / "somedir"
    path.mkdir()
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    located(excinfo, path, None)


# --------------------------------------------------------------------------- bad files

def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "pool.txt"
    path.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "unknown pool file suffix '.txt'" in located(excinfo, path, None)


def test_unknown_explicit_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pool.jsonl", [GOOD])
    with pytest.raises(InputError) as excinfo:
        read_pool(path, fmt="xml")
    assert "unknown pool format 'xml'" in located(excinfo, path, None)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "file not found" in located(excinfo, path, None)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pool.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as excinfo:
        read_pool(path)
    assert "empty pool" in located(excinfo, path, None)


# --------------------------------------------------------------------------- versions and tags

def test_pool_version_stable_across_rereads_and_formats(tmp_path: Path) -> None:
    rows = SAMPLE_ROWS[:2]
    path = write_jsonl(tmp_path / "pool.jsonl", rows)
    version = pool_version(read_pool(path))
    assert len(version) == 16
    assert pool_version(read_pool(path)) == version
    copy = write_jsonl(tmp_path / "copy.jsonl", [dict(reversed(list(r.items()))) for r in rows])
    assert pool_version(read_pool(copy)) == version


@pytest.mark.parametrize("change", ["prompt", "tag", "reference", "id", "order"])
def test_pool_version_changes_with_content(tmp_path: Path, change: str) -> None:
    rows = json.loads(json.dumps(SAMPLE_ROWS))
    base = pool_version(read_pool(write_jsonl(tmp_path / "a.jsonl", rows)))
    if change == "prompt":
        rows[1]["prompt"] += "!"
    elif change == "tag":
        rows[0]["tags"]["category"] = "arithmetic"
    elif change == "reference":
        rows[0]["reference"] = "four"
    elif change == "id":
        rows[2]["id"] = "p3b"
    else:
        rows.reverse()
    assert pool_version(read_pool(write_jsonl(tmp_path / "b.jsonl", rows))) != base


def test_tag_names() -> None:
    assert tag_names(EXPECTED) == ["category", "lang"]
    assert tag_names([]) == []


def test_import_is_lazy() -> None:
    code = ("import sys, evalkit.pools; "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- shipped pool

@pytest.mark.skipif(not RLHF_POOL.exists(), reason=f"{RLHF_POOL} not written yet")
def test_rlhf_prompts_pool_loads() -> None:
    prompts = read_pool(RLHF_POOL)
    assert len(prompts) >= 300
    categories = {p.tags["category"] for p in prompts if "category" in p.tags}
    assert len(categories) >= 10
