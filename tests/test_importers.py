"""Tests for the AlpacaEval, Arena-Hard and MT-Bench importers/exporters (evalkit.importers)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import hashlib  # noqa: E402
import json  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from evalkit.errors import InputError  # noqa: E402
from evalkit.importers.alpaca_eval import read_alpaca_eval, write_alpaca_eval  # noqa: E402
from evalkit.importers.arena_hard import read_arena_hard, write_arena_hard  # noqa: E402
from evalkit.importers.bundle import ImportBundle  # noqa: E402
from evalkit.importers.mt_bench import read_mt_bench, write_mt_bench  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(relative: str) -> Path:
    """A path under the shared real-data folder, or skip the test when it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real sample data not available: {path} is missing (CI provides "
                    "../shared/data next to the repository)")
    return path


def write_json(path: Path, rows: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def verdicts(bundle: ImportBundle) -> list[tuple[Any, ...]]:
    return [(j.judge, j.prompt_id, j.model_first, j.model_second, j.label, j.strength, j.raw)
            for j in bundle.judgments]


# --------------------------------------------------------------------------- real data

def test_arena_hard_v01_real_data_gives_500_prompts_and_three_models() -> None:
    base = shared("arena-hard-v0.1")
    answer_files = sorted((base / "model_answer").glob("*.jsonl"))
    bundle = read_arena_hard(base / "question.jsonl", answer_files)

    raw_questions = read_jsonl(base / "question.jsonl")
    assert len(bundle.prompts) == len(raw_questions) == 500
    assert sorted(bundle.outputs) == ["gpt-3.5-turbo-0125", "gpt-4-0314", "gpt-4-0613"]
    assert all(len(answers) == 500 for answers in bundle.outputs.values())
    assert [p.id for p in bundle.prompts] == [q["uid"] for q in raw_questions]
    assert Counter(p.tags["category"] for p in bundle.prompts) == Counter(
        q["cluster"] for q in raw_questions)

    spot = raw_questions[123]
    prompt = bundle.prompts[123]
    assert prompt.id == spot["uid"]
    assert prompt.messages == ({"role": "user", "content": spot["prompt"]},)
    raw_answers = read_jsonl(base / "model_answer" / "gpt-4-0613.jsonl")
    answer = next(a for a in raw_answers if a["uid"] == spot["uid"])
    assert bundle.outputs["gpt-4-0613"][spot["uid"]] == answer["messages"][-1]["content"]["answer"]


def test_arena_hard_v01_real_files_are_written_back_unchanged(tmp_path: Path) -> None:
    base = shared("arena-hard-v0.1")
    answer_files = sorted((base / "model_answer").glob("*.jsonl"))
    bundle = read_arena_hard(base / "question.jsonl", answer_files)
    files = write_arena_hard(bundle, tmp_path / "out")

    assert read_jsonl(files.question_file) == read_jsonl(base / "question.jsonl")
    for path in answer_files:
        assert read_jsonl(tmp_path / "out" / "model_answer" / path.name) == read_jsonl(path)
    assert read_arena_hard(files.question_file, files.answer_files) == bundle


def test_mt_bench_real_questions_categories_and_references(tmp_path: Path) -> None:
    questions = shared("mt_bench/question.jsonl")
    references = shared("mt_bench/reference_answer/gpt-4.jsonl")
    raw = read_jsonl(questions)
    raw_refs = {r["question_id"]: r["choices"][0]["turns"][0] for r in read_jsonl(references)}

    plain = read_mt_bench(questions)
    assert len(plain.prompts) == 80
    assert Counter(p.tags["category"] for p in plain.prompts) == Counter(q["category"] for q in raw)
    assert len({p.tags["category"] for p in plain.prompts}) == 8
    assert all(len(p.messages) == 1 for p in plain.prompts)
    assert plain.prompts[0].messages[0]["content"] == raw[0]["turns"][0]
    inline = {str(q["question_id"]): q["reference"][0] for q in raw if "reference" in q}
    assert len(inline) == 39
    assert {p.id: p.reference for p in plain.prompts if p.reference is not None} == inline

    bundle = read_mt_bench(questions, reference_file=references)
    with_ref = {p.id: p.reference for p in bundle.prompts if p.reference is not None}
    assert len(raw_refs) == 30
    assert {int(pid) for pid in with_ref} == set(raw_refs) | {int(pid) for pid in inline}
    assert len(with_ref) == 40  # 30 from the file, 10 more with only an inline reference
    for qid, text in raw_refs.items():  # the reference file wins where both exist
        assert with_ref[str(qid)] == text

    files = write_mt_bench(bundle, tmp_path / "out")
    assert read_jsonl(files.question_file) == raw
    assert files.reference_file is not None
    assert read_jsonl(files.reference_file) == read_jsonl(references)
    assert read_mt_bench(files.question_file, reference_file=files.reference_file) == bundle


# --------------------------------------------------------------------------- AlpacaEval

INSTRUCTIONS = ["Name three prime numbers.", "Write a haiku about rain.",
                "Explain what TCP is in one sentence."]


def alpaca_files(tmp_path: Path) -> tuple[list[Path], Path, list[list[dict]], list[dict]]:
    datasets = ["helpful_base", "koala", "oasst"]
    outputs_b = [{"instruction": ins, "output": f"ckpt_b answer {i}", "generator": "ckpt_b",
                  "dataset": ds}
                 for i, (ins, ds) in enumerate(zip(INSTRUCTIONS, datasets, strict=True))]
    outputs_b[1]["datasplit"] = "eval"
    outputs_a = [{"dataset": ds, "instruction": ins, "output": f"ckpt_a answer {i}",
                  "generator": "ckpt_a"}
                 for i, (ins, ds) in enumerate(zip(INSTRUCTIONS, datasets, strict=True))]

    def ann(i: int, first: str, second: str, preference: Any, **more: Any) -> dict:
        out = {"ckpt_a": f"ckpt_a answer {i}", "ckpt_b": f"ckpt_b answer {i}",
               "gpt4_turbo": f"reference answer {i}"}
        return {"instruction": INSTRUCTIONS[i], "output_1": out[first], "generator_1": first,
                "dataset": datasets[i], "output_2": out[second], "generator_2": second,
                "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": preference,
                "price_per_example": 0.0123, "time_per_example": 1.5, **more}

    annotations = [
        ann(0, "gpt4_turbo", "ckpt_b", 1.0, raw_completion="Output (a)"),
        ann(1, "gpt4_turbo", "ckpt_b", 2.0, raw_completion=None),
        ann(2, "gpt4_turbo", "ckpt_b", 1.73, raw_completion={"logprobs": [-0.3, -1.2]}),
        ann(0, "ckpt_a", "ckpt_b", 1.5),
        ann(1, "ckpt_a", "ckpt_b", 0),
        ann(2, "ckpt_a", "ckpt_b", None),
    ]
    annotations[5]["output_2"] = "a different ckpt_b answer seen by this annotator"
    del annotations[4]["annotator"]
    paths = [write_json(tmp_path / "in" / "b" / "model_outputs.json", outputs_b),
             write_json(tmp_path / "in" / "a" / "model_outputs.json", outputs_a)]
    return paths, write_json(tmp_path / "in" / "annotations.json", annotations), \
        [outputs_b, outputs_a], annotations


@pytest.mark.parametrize(("value", "label", "strength", "preference"), [
    (1, "A", 1, 0.0), (1.0, "A", 1, 0.0), (2, "B", 1, 1.0), (2.0, "B", 1, 1.0),
    (1.73, None, 0, 0.73), (1.5, "tie", 0, 0.5), (0, "tie", 0, 0.5), (None, "invalid", 0, None),
])
def test_alpaca_eval_preference_mapping(tmp_path: Path, value: Any, label: Any, strength: int,
                                        preference: Any) -> None:
    outputs = write_json(tmp_path / "model_outputs.json", [
        {"instruction": "Say hi.", "output": "hi", "generator": "m"}])
    annotations = write_json(tmp_path / "annotations.json", [
        {"instruction": "Say hi.", "output_1": "hello", "generator_1": "ref",
         "output_2": "hi", "generator_2": "m", "annotator": "gpt4", "preference": value}])
    (j,) = read_alpaca_eval([outputs], annotations).judgments
    assert (j.label, j.strength) == (label, strength)
    assert j.preference == (None if preference is None else pytest.approx(preference))
    assert (j.model_first, j.model_second) == ("ref", "m")


def test_alpaca_eval_reads_prompts_outputs_and_annotations(tmp_path: Path) -> None:
    paths, annotations, _, raw = alpaca_files(tmp_path)
    bundle = read_alpaca_eval(paths, annotations)

    assert [p.id for p in bundle.prompts] == [sha12(i) for i in INSTRUCTIONS]
    assert bundle.prompts[1].messages == ({"role": "user", "content": INSTRUCTIONS[1]},)
    assert [p.tags for p in bundle.prompts] == [
        {"dataset": "helpful_base"}, {"dataset": "koala"}, {"dataset": "oasst"}]
    assert sorted(bundle.outputs) == ["ckpt_a", "ckpt_b", "gpt4_turbo"]
    # the reference model is known only from the annotations
    assert bundle.outputs["gpt4_turbo"][sha12(INSTRUCTIONS[2])] == "reference answer 2"
    assert bundle.outputs["ckpt_b"][sha12(INSTRUCTIONS[2])] == "ckpt_b answer 2"

    js = bundle.judgments
    assert [j.judge for j in js] == ["weighted_alpaca_eval_gpt4_turbo"] * 4 + [
        "alpaca_eval", "weighted_alpaca_eval_gpt4_turbo"]
    assert [j.label for j in js] == ["A", "B", None, "tie", "tie", "invalid"]
    assert [j.raw for j in js] == ["Output (a)", None, None, None, None, None]
    assert js[0].extra == {"dataset": "helpful_base", "price_per_example": 0.0123,
                           "time_per_example": 1.5}
    assert js[1].extra["raw_completion"] is None
    assert js[2].extra["raw_completion"] == {"logprobs": [-0.3, -1.2]}
    assert js[4].extra["preference"] == 0          # the legacy draw, kept for the writer
    assert js[5].extra["output_2"] == raw[5]["output_2"]


def test_alpaca_eval_round_trip_reproduces_the_files(tmp_path: Path) -> None:
    paths, annotations, raw_outputs, raw_annotations = alpaca_files(tmp_path)
    bundle = read_alpaca_eval(paths, annotations)
    outputs_path, annotations_path = write_alpaca_eval(bundle, tmp_path / "out")

    assert read_json(outputs_path) == raw_outputs[0] + raw_outputs[1]
    assert read_json(annotations_path) == raw_annotations
    again = read_alpaca_eval([outputs_path], annotations_path)
    assert again == bundle
    assert [(j.preference, j.label, j.strength, j.raw, j.extra) for j in again.judgments] == [
        (j.preference, j.label, j.strength, j.raw, j.extra) for j in bundle.judgments]


# --------------------------------------------------------------------------- Arena-Hard

def arena_v2_files(tmp_path: Path) -> tuple[Path, list[Path], list[Path]]:
    base = tmp_path / "arena-hard-v2.0"
    questions = [{"uid": f"u{i:03d}", "category": "hard_prompt", "subcategory": sub,
                  "prompt": text} for i, (sub, text) in enumerate([
                      ("coding", "Write a Python function that reverses a list."),
                      ("math", "What is the derivative of x^3?"),
                      ("writing", "Draft a two-line poem about autumn.")])]
    q_file = write_jsonl(base / "question.jsonl", questions)

    def answer(q: dict, model: str, system: str | None = None) -> dict:
        messages = [{"role": "user", "content": q["prompt"]}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        messages.append({"role": "assistant",
                         "content": {"answer": f"{model} on {q['uid']}", "reasoning": "..."}})
        return {"uid": q["uid"], "ans_id": f"id-{model}-{q['uid']}", "model": model,
                "messages": messages, "tstamp": 1745605748.25,
                "metadata": {"token_len": 12, "bold_count": {"**": 1, "__": 0}}}

    a_files = [
        write_jsonl(base / "model_answer" / "o3-mini.jsonl",
                    [answer(q, "o3-mini") for q in questions]),
        write_jsonl(base / "model_answer" / "ckpt.jsonl",
                    [answer(q, "ckpt", "Be brief." if i == 0 else None)
                     for i, q in enumerate(questions)]),
    ]

    def game(score: Any, text: str) -> dict:
        return {"score": score, "judgment": {"answer": text},
                "prompt": [{"role": "system", "content": "judge system prompt"},
                           {"role": "user", "content": "<|User Prompt|> ..."}]}

    def record(q: dict, games: list[Any]) -> dict:
        return {"uid": q["uid"], "category": "hard_prompt", "judge": "gpt-4.1", "model": "ckpt",
                "baseline": "o3-mini", "games": games}

    judgments = [
        record(questions[0], [game("A>>B", "baseline much better [[A>>B]]"),
                              game("B<A", "mirrored spelling [[B<A]]")]),
        record(questions[1], [game(None, "no verdict given"), None]),
        record(questions[2], [game("A=B", "same [[A=B]]"), game("[[A>B", "garbled")]),
    ]
    j_file = write_jsonl(base / "model_judgment" / "gpt-4.1" / "ckpt.jsonl", judgments)
    return q_file, a_files, [j_file]


def test_arena_hard_v2_games_become_positional_judgments(tmp_path: Path) -> None:
    q_file, a_files, j_files = arena_v2_files(tmp_path)
    bundle = read_arena_hard(q_file, a_files, j_files)

    assert [p.tags for p in bundle.prompts] == [{"category": "hard_prompt"}] * 3
    assert bundle.outputs["ckpt"]["u000"] == "ckpt on u000"
    assert verdicts(bundle) == [
        ("gpt-4.1", "u000", "o3-mini", "ckpt", "A", 2, "baseline much better [[A>>B]]"),
        ("gpt-4.1", "u000", "ckpt", "o3-mini", "A", 1, "mirrored spelling [[B<A]]"),
        ("gpt-4.1", "u001", "o3-mini", "ckpt", "invalid", 0, "no verdict given"),
        ("gpt-4.1", "u001", "ckpt", "o3-mini", "invalid", 0, None),
        ("gpt-4.1", "u002", "o3-mini", "ckpt", "tie", 0, "same [[A=B]]"),
        ("gpt-4.1", "u002", "ckpt", "o3-mini", "invalid", 0, "garbled"),
    ]
    assert all(j.preference is None for j in bundle.judgments)
    assert bundle.judgments[0].extra["game"] == 1
    assert bundle.judgments[1].extra["game"] == 2
    assert bundle.judgments[0].extra["record"]["category"] == "hard_prompt"


def test_arena_hard_v2_round_trip_reproduces_the_files(tmp_path: Path) -> None:
    q_file, a_files, j_files = arena_v2_files(tmp_path)
    bundle = read_arena_hard(q_file, a_files, j_files)
    files = write_arena_hard(bundle, tmp_path / "out")

    assert read_jsonl(files.question_file) == read_jsonl(q_file)
    assert [p.name for p in files.answer_files] == [p.name for p in a_files]
    for written, source in zip(files.answer_files, a_files, strict=True):
        assert read_jsonl(written) == read_jsonl(source)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files.judgment_files] == [
        "model_judgment/gpt-4.1/ckpt.jsonl"]
    assert read_jsonl(files.judgment_files[0]) == read_jsonl(j_files[0])
    assert read_arena_hard(files.question_file, files.answer_files,
                           files.judgment_files) == bundle


def arena_original_files(tmp_path: Path) -> tuple[Path, list[Path], Path]:
    base = tmp_path / "arena-hard-v0.1"
    questions = [
        {"question_id": "q-one", "category": "arena-hard-v0.1", "cluster": "Python Basics",
         "turns": [{"content": "How do I read a file in Python?"}]},
        {"question_id": "q-two", "category": "arena-hard-v0.1", "cluster": "Follow-ups",
         "turns": [{"content": "Suggest a name for a cat."}, {"content": "Now a dog."}]},
    ]
    q_file = write_jsonl(base / "question.jsonl", questions)

    def answer(q: dict, model: str) -> dict:
        turns = [{"content": f"{model} turn {k + 1} on {q['question_id']}", "token_len": 7}
                 for k in range(len(q["turns"]))]
        return {"question_id": q["question_id"], "answer_id": f"a-{model}", "model_id": model,
                "choices": [{"index": 0, "turns": turns}], "tstamp": 1712000000.5,
                "conv_metadata": {"token_len": 7}}

    a_files = [write_jsonl(base / "model_answer" / f"{m}.jsonl", [answer(q, m) for q in questions])
               for m in ("gpt-4-0314", "ckpt")]
    judgments = [{"question_id": q["question_id"], "model": "ckpt", "judge": "gpt-4-1106-preview",
                  "games": [{"user_prompt": "<|User Prompt|>...", "judgment": f"g1 {s1}",
                             "score": s1},
                            {"user_prompt": "<|User Prompt|>...", "judgment": f"g2 {s2}",
                             "score": s2}]}
                 for q, (s1, s2) in zip(questions, [("B>A", "A>>B"), ("B>>A", None)],
                                           strict=True)]
    j_file = write_jsonl(base / "model_judgment" / "gpt-4-1106-preview" / "ckpt.jsonl", judgments)
    return q_file, a_files, j_file


def test_arena_hard_original_layout_needs_and_uses_the_baseline(tmp_path: Path) -> None:
    q_file, a_files, j_file = arena_original_files(tmp_path)
    with pytest.raises(InputError) as err:
        read_arena_hard(q_file, a_files, [j_file])
    assert (err.value.path, err.value.line, err.value.field) == (str(j_file), 1, "baseline")
    assert "baseline=" in str(err.value)

    bundle = read_arena_hard(q_file, a_files, [j_file], baseline="gpt-4-0314")
    assert [p.tags["category"] for p in bundle.prompts] == ["Python Basics", "Follow-ups"]
    two = bundle.prompts[1]
    assert two.messages == ({"role": "user", "content": "Suggest a name for a cat."},)
    assert bundle.outputs["ckpt"]["q-two"] == "ckpt turn 1 on q-two"
    assert bundle.extra["questions"]["q-two"]["turns"][1] == {"content": "Now a dog."}
    assert [(j.model_first, j.label, j.strength) for j in bundle.judgments] == [
        ("gpt-4-0314", "B", 1), ("ckpt", "A", 2), ("gpt-4-0314", "B", 2), ("ckpt", "invalid", 0)]

    files = write_arena_hard(bundle, tmp_path / "out")
    assert read_jsonl(files.question_file) == read_jsonl(q_file)
    for written, source in zip(files.answer_files, a_files, strict=True):
        assert read_jsonl(written) == read_jsonl(source)
    assert read_jsonl(files.judgment_files[0]) == read_jsonl(j_file)
    assert read_arena_hard(files.question_file, files.answer_files, files.judgment_files,
                           baseline="gpt-4-0314") == bundle


# --------------------------------------------------------------------------- MT-Bench

def mt_bench_files(tmp_path: Path) -> tuple[Path, list[Path], list[Path], Path]:
    base = tmp_path / "mt_bench"
    questions = [
        {"question_id": 81, "category": "writing",
         "turns": ["Write a short travel note about Lisbon.", "Rewrite it as a limerick."]},
        {"question_id": 101, "category": "reasoning",
         "turns": ["You overtake the second person in a race. What is your position?",
                   "And if you overtake the last person?"],
         "reference": ["You are in second place.", "This cannot happen."]},
    ]
    q_file = write_jsonl(base / "question.jsonl", questions)
    refs = write_jsonl(base / "reference_answer" / "gpt-4.jsonl", [
        {"question_id": 101, "answer_id": "ref101", "model_id": "gpt-4",
         "choices": [{"index": 0, "turns": ["Second place.", "It is impossible."]}],
         "tstamp": 1686286924.844282}])

    def answer(q: dict, model: str) -> dict:
        return {"question_id": q["question_id"], "answer_id": f"{model}-{q['question_id']}",
                "model_id": model, "choices": [{"index": 0, "turns": [
                    f"{model} turn 1 of {q['question_id']}",
                    f"{model} turn 2 of {q['question_id']}"]}],
                "tstamp": 1687000000.25}

    a_files = [write_jsonl(base / "model_answer" / f"{m}.jsonl", [answer(q, m) for q in questions])
               for m in ("ckpt-a", "ckpt-b")]

    def pair(qid: int, turn: int, g1: str, g2: str, prompt: str = "pair-v2",
             judge: str = "gpt-4") -> dict:
        return {"question_id": qid, "model_1": "ckpt-a", "model_2": "ckpt-b",
                "g1_winner": g1, "g2_winner": g2, "judge": [judge, prompt],
                "g1_user_prompt": f"[User Question]\n{qid} (a first)",
                "g1_judgment": f"turn {turn} game 1 -> {g1}",
                "g2_user_prompt": f"[User Question]\n{qid} (b first)",
                "g2_judgment": f"turn {turn} game 2 -> {g2}", "turn": turn,
                "tstamp": 1687221890.5}

    j_files = [
        write_jsonl(base / "model_judgment" / "gpt-4_pair.jsonl", [
            pair(81, 1, "model_1", "model_1"),
            pair(81, 2, "model_2", "tie", "pair-v2-multi-turn"),
            pair(101, 1, "tie", "error", "pair-math-v1"),
            pair(101, 2, "model_1", "model_1", "pair-math-v1-multi-turn"),
        ]),
        write_jsonl(base / "model_judgment" / "claude-v1_pair.jsonl", [
            pair(81, 1, "model_2", "model_2", judge="claude-v1")]),
    ]
    return q_file, a_files, j_files, refs


def test_mt_bench_turn_one_prompts_and_positional_winners(tmp_path: Path) -> None:
    q_file, a_files, j_files, refs = mt_bench_files(tmp_path)
    bundle = read_mt_bench(q_file, a_files, j_files, refs)

    assert [p.id for p in bundle.prompts] == ["81", "101"]
    assert bundle.prompts[0].messages == (
        {"role": "user", "content": "Write a short travel note about Lisbon."},)
    assert [p.tags for p in bundle.prompts] == [{"category": "writing"}, {"category": "reasoning"}]
    assert [p.reference for p in bundle.prompts] == [None, "Second place."]
    assert bundle.outputs["ckpt-b"]["101"] == "ckpt-b turn 1 of 101"
    assert bundle.extra["answers"]["ckpt-b"]["101"]["choices"][0]["turns"] == [
        None, "ckpt-b turn 2 of 101"]
    assert bundle.extra["questions"]["81"]["turns"] == [None, "Rewrite it as a limerick."]

    got = [(j.judge, j.prompt_id, j.model_first, j.label, j.strength) for j in bundle.judgments]
    assert got == [
        ("gpt-4", "81", "ckpt-a", "A", 1),        # g1: model_1 shown first and won
        ("gpt-4", "81", "ckpt-b", "B", 1),        # g2: model_2 shown first, model_1 won
        ("gpt-4", "101", "ckpt-a", "tie", 0),
        ("gpt-4", "101", "ckpt-b", "invalid", 0),  # "error"
        ("claude-v1", "81", "ckpt-a", "B", 1),
        ("claude-v1", "81", "ckpt-b", "A", 1),
    ]
    assert bundle.judgments[2].raw == "turn 1 game 1 -> tie"
    assert bundle.judgments[2].extra["judge_prompt"] == "pair-math-v1"
    assert bundle.judgments[3].extra["user_prompt"] == "[User Question]\n101 (b first)"
    turn2 = bundle.extra["turn2_judgments"]
    assert [(t["judge"], t["position"], t["record"]["turn"]) for t in turn2] == [
        ("gpt-4", 1, 2), ("gpt-4", 3, 2)]


def test_mt_bench_round_trip_reproduces_the_files(tmp_path: Path) -> None:
    q_file, a_files, j_files, refs = mt_bench_files(tmp_path)
    bundle = read_mt_bench(q_file, a_files, j_files, refs)
    files = write_mt_bench(bundle, tmp_path / "out")

    assert read_jsonl(files.question_file) == read_jsonl(q_file)
    for written, source in zip(files.answer_files, a_files, strict=True):
        assert written.name == source.name
        assert read_jsonl(written) == read_jsonl(source)
    assert [p.name for p in files.judgment_files] == [p.name for p in j_files]
    for written, source in zip(files.judgment_files, j_files, strict=True):
        assert read_jsonl(written) == read_jsonl(source)
    assert files.reference_file is not None
    assert read_jsonl(files.reference_file) == read_jsonl(refs)
    again = read_mt_bench(files.question_file, files.answer_files, files.judgment_files,
                          files.reference_file)
    assert again == bundle


# --------------------------------------------------------------------------- across formats

def test_arena_hard_judgments_convert_to_mt_bench_pairs(tmp_path: Path) -> None:
    q_file, a_files, j_files = arena_v2_files(tmp_path)
    arena = read_arena_hard(q_file, a_files, j_files)
    files = write_mt_bench(arena, tmp_path / "mt")
    mt = read_mt_bench(files.question_file, files.answer_files, files.judgment_files)

    assert [(p.id, p.messages, p.tags) for p in mt.prompts] == [
        (p.id, p.messages, p.tags) for p in arena.prompts]
    assert mt.outputs == arena.outputs
    assert [(j.prompt_id, j.model_first, j.model_second, j.label) for j in mt.judgments] == [
        (j.prompt_id, j.model_first, j.model_second, j.label) for j in arena.judgments]


def test_alpaca_eval_judgments_convert_to_arena_hard_one_game_records(tmp_path: Path) -> None:
    paths, annotations, _, _ = alpaca_files(tmp_path)
    alpaca = read_alpaca_eval(paths, annotations)
    files = write_arena_hard(alpaca, tmp_path / "arena")
    arena = read_arena_hard(files.question_file, files.answer_files, files.judgment_files)
    assert len(arena.judgments) == len(alpaca.judgments)
    assert {(j.prompt_id, j.model_first, j.model_second) for j in arena.judgments} == {
        (j.prompt_id, j.model_first, j.model_second) for j in alpaca.judgments}
    # soft preference 0.73 reads as a plain win of the second shown
    labels = {(j.prompt_id, j.model_first): j.label for j in arena.judgments}
    assert labels[(sha12(INSTRUCTIONS[2]), "gpt4_turbo")] == "B"


def test_writers_refuse_what_the_format_cannot_hold(tmp_path: Path) -> None:
    paths, annotations, _, _ = alpaca_files(tmp_path)
    alpaca = read_alpaca_eval(paths, annotations)
    with pytest.raises(InputError, match="swapped order"):
        write_mt_bench(alpaca, tmp_path / "mt")  # AlpacaEval has one order per annotation

    q_file, a_files, j_files, _ = mt_bench_files(tmp_path)
    mt = read_mt_bench(q_file, a_files, j_files)
    chat = type(mt.prompts[0])(id="chat", messages=(
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and?"}))
    mt.prompts.append(chat)
    mt.outputs["ckpt-a"]["chat"] = "fine"
    with pytest.raises(InputError, match="single user turn") as err:
        write_alpaca_eval(mt, tmp_path / "alpaca")
    assert "\n" not in str(err.value)
