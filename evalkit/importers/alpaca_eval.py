"""AlpacaEval result files <-> ``ImportBundle``.

Format, as checked in tatsu-lab/alpaca_eval:

* ``model_outputs.json``: a JSON array of ``{"instruction", "output", "generator", "dataset",
  ...}`` (README.md "model_outputs"; results/<model>/model_outputs.json).
* ``annotations.json``: a JSON array of ``{"instruction", "output_1", "generator_1", "dataset",
  "output_2", "generator_2", "annotator", "preference", "price_per_example",
  "time_per_example", "raw_completion"}`` (results/gpt4_1106_preview/alpaca_eval_gpt4/ and
  .../weighted_alpaca_eval_gpt4_turbo/annotations.json). ``raw_completion`` is often null.
* ``preference``: 1 = output_1 better, 2 = output_2 better, values in between from weighted
  (logprob) annotators, 1.5 a draw and 0 the legacy draw encoding, null when the annotator
  gave no verdict (src/alpaca_eval/metrics/helpers.py ``BaseScoringRule``: draws are
  ``== 1.5 | == 0``, 0 is replaced by 1.5, and ``preference - 1`` is output_2's win;
  src/alpaca_eval/annotators/pairwise_evaluator.py ``annotate_head2head``: outputs are merged
  on ``instruction`` into output_1 / output_2).

Mapping: AlpacaEval has no prompt ids, so a prompt's id is the first 12 hex chars of the
sha256 of its instruction text; its messages are one user turn; ``dataset`` becomes the tag
``dataset``. Each annotation is one ``ImportedJudgment`` (output_1 shown first):
label "A" for 1, "B" for 2, "tie" for a draw, None for a fractional weighted verdict,
"invalid" for a missing one; ``preference`` = P(output_2 better) = preference - 1 (0.5 for a
draw); the judge is the ``annotator`` ("alpaca_eval" when there is none). Outputs that
appear only in annotations (typically the reference model's) are added
to ``outputs`` too. ``bundle.extra`` keeps each model_outputs record's other fields in file
order, so ``write_alpaca_eval`` gives back the same JSON objects.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..pools import PoolPrompt
from ._common import PathLike, _At, _kind, _optional_text, _prompt
from .bundle import ImportBundle, ImportedJudgment

__all__ = ["prompt_id_for", "read_alpaca_eval", "write_alpaca_eval"]


_OUTPUT_KEYS = ("instruction", "output", "generator")
_ANNOTATION_KEYS = ("instruction", "output_1", "generator_1", "output_2", "generator_2",
                    "annotator", "preference")
_DEFAULT_JUDGE = "alpaca_eval"
_ABSENT = {"absent": True}  # marks a field the source record did not have


def prompt_id_for(instruction: str) -> str:
    """The id of an AlpacaEval instruction: the first 12 hex chars of its sha256."""
    return hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:12]


# --------------------------------------------------------------------------- reading

def read_alpaca_eval(
    model_outputs: PathLike | Iterable[PathLike], annotations: PathLike | None = None, *,
    pool_name: str = "alpaca_eval",
) -> ImportBundle:
    """Read model_outputs.json files (one or several) and optionally an annotations.json."""
    paths = [model_outputs] if isinstance(model_outputs, (str, os.PathLike)) else model_outputs
    reader = _Reader()
    for path in paths:
        for item, row, at in _json_items(path):
            reader.add_output(item, row, at)
    if annotations is not None:
        for item, row, at in _json_items(annotations):
            reader.add_annotation(item, row, at)
    if not reader.prompts:
        raise InputError("no model outputs found (an empty array?)",
                         path=", ".join(map(str, paths)) or None)
    extra: dict[str, Any] = {"model_outputs": reader.records}
    if reader.annotation_only:
        extra["annotation_only_outputs"] = reader.annotation_only
    return ImportBundle(source="alpaca_eval", pool_name=pool_name,
                        prompts=list(reader.prompts.values()), outputs=reader.outputs,
                        judgments=reader.judgments, extra=extra)


def _json_items(path: PathLike) -> list[tuple[int, dict[str, Any], _At]]:
    """The objects of a JSON array file, numbered from 1."""
    src = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InputError("file not found", path=src) from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read file: {err}", path=src) from err
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg} at column {err.colno}", path=src,
                         line=err.lineno) from err
    if not isinstance(data, list):
        raise InputError(f"expected a JSON array of objects, found {_kind(data)}", path=src)
    items = []
    for number, row in enumerate(data, start=1):
        at = _At(src, number)
        if not isinstance(row, dict):
            raise at.error(None, f"expected a JSON object (array item {number}), "
                                 f"found {_kind(row)}")
        items.append((number, row, at))
    return items


def _text(row: dict[str, Any], key: str, at: _At, *, empty_ok: bool = True) -> str:
    if key not in row:
        raise at.error(key, "missing field")
    value = row[key]
    if not isinstance(value, str):
        raise at.error(key, f"wrong type: expected a string, found {_kind(value)}")
    if not empty_ok and not value.strip():
        raise at.error(key, "empty string")
    return value


class _Reader:
    """Accumulates prompts, outputs and judgments across the files of one import."""

    def __init__(self) -> None:
        self.prompts: dict[str, PoolPrompt] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.judgments: list[ImportedJudgment] = []
        self.records: list[list[Any]] = []          # [generator, prompt id, other fields]
        self.annotation_only: list[list[str]] = []  # [generator, prompt id]
        self.seen: dict[tuple[str, str], str] = {}  # (generator, id) -> where first given

    def prompt(self, instruction: str, dataset: str | None) -> str:
        pid = prompt_id_for(instruction)
        known = self.prompts.get(pid)
        if known is None:
            tags = {"dataset": dataset} if dataset is not None else {}
            self.prompts[pid] = PoolPrompt(
                id=pid, messages=({"role": "user", "content": instruction},), tags=tags)
        elif dataset is not None and "dataset" not in known.tags:
            self.prompts[pid] = replace(known, tags={**known.tags, "dataset": dataset})
        return pid

    def add_output(self, item: int, row: dict[str, Any], at: _At) -> None:
        instruction = _text(row, "instruction", at, empty_ok=False)
        output = _text(row, "output", at)
        generator = _text(row, "generator", at, empty_ok=False)
        pid = self.prompt(instruction, _optional_text(row, "dataset", at))
        first = self.seen.get((generator, pid))
        if first is not None:
            raise at.error("instruction", f"duplicate instruction for generator "
                                          f"'{generator}' (first given at {first})")
        self.seen[(generator, pid)] = f"{at.path}:{item}"
        self.outputs.setdefault(generator, {})[pid] = output
        self.records.append([generator, pid,
                             {k: v for k, v in row.items() if k not in _OUTPUT_KEYS}])

    def add_annotation(self, item: int, row: dict[str, Any], at: _At) -> None:
        instruction = _text(row, "instruction", at, empty_ok=False)
        pid = self.prompt(instruction, _optional_text(row, "dataset", at))
        extra: dict[str, Any] = {}
        models = []
        for side in ("1", "2"):
            output = _text(row, f"output_{side}", at)
            model = _text(row, f"generator_{side}", at, empty_ok=False)
            known = self.outputs.setdefault(model, {})
            if pid not in known:
                known[pid] = output
                self.annotation_only.append([model, pid])
            elif known[pid] != output:
                extra[f"output_{side}"] = output  # differs from model_outputs: kept verbatim
            models.append(model)
        judge = _optional_text(row, "annotator", at)
        if judge is None:  # written back as it was: absent, or null
            extra["annotator"] = row["annotator"] if "annotator" in row else _ABSENT
        if "preference" not in row:
            raise at.error("preference", "missing field")
        label, strength, preference, legacy_draw = _verdict(row["preference"], at)
        if legacy_draw:
            extra["preference"] = row["preference"]
        raw = row.get("raw_completion")
        if not isinstance(raw, str):
            raw = None
        for key, value in row.items():
            if key not in _ANNOTATION_KEYS and not (key == "raw_completion" and raw is not None):
                extra[key] = value
        self.judgments.append(ImportedJudgment(
            judge=judge or _DEFAULT_JUDGE, prompt_id=pid, model_first=models[0],
            model_second=models[1], label=label, strength=strength, preference=preference,
            raw=raw, extra=extra))


def _verdict(value: Any, at: _At) -> tuple[str | None, int, float | None, bool]:
    """(label, strength, P(output_2 better), legacy 0-draw?) of an AlpacaEval preference."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "invalid", 0, None, False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise at.error("preference", f"wrong type: expected a number or null, "
                                     f"found {_kind(value)}")
    if value == 0:
        return "tie", 0, 0.5, True
    if not 1 <= value <= 2:
        raise at.error("preference", f"out of range: {value!r} (expected 1 to 2, 1.5 or 0 for "
                                     "a draw, null when missing)")
    preference = float(value) - 1.0  # exact for values in [1, 2]
    if value == 1.5:
        return "tie", 0, preference, False
    if value in (1, 2):
        return ("A" if value == 1 else "B"), 1, preference, False
    return None, 0, preference, False


# --------------------------------------------------------------------------- writing

def write_alpaca_eval(bundle: ImportBundle, out_dir: PathLike) -> tuple[Path, Path]:
    """Write ``model_outputs.json`` (every model) and ``annotations.json`` into ``out_dir``.

    Records read from model_outputs files come back in their order with their fields; outputs
    known only from annotations are not repeated in model_outputs.json; any other outputs
    follow, model by model. Prompts must be single user turns.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prompts = {p.id: p for p in bundle.prompts}
    own = bundle.source == "alpaca_eval"
    records = bundle.extra.get("model_outputs", []) if own else []
    skip = {(m, p) for m, p in bundle.extra.get("annotation_only_outputs", [])} if own else set()
    rows: list[dict[str, Any]] = []
    for generator, pid, fields in records:
        if pid in bundle.outputs.get(generator, {}):
            rows.append(_output_row(prompts, bundle, generator, pid, fields))
            skip.add((generator, pid))
    for generator, answers in bundle.outputs.items():
        for pid in answers:
            if (generator, pid) not in skip:
                tags = _prompt(prompts, pid).tags
                fields = {"dataset": tags["dataset"]} if "dataset" in tags else {}
                rows.append(_output_row(prompts, bundle, generator, pid, fields))
    annotations = [_annotation_row(prompts, bundle, j) for j in bundle.judgments]
    outputs_path, annotations_path = out / "model_outputs.json", out / "annotations.json"
    _dump(outputs_path, rows)
    _dump(annotations_path, annotations)
    return outputs_path, annotations_path


def _dump(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _instruction(prompt: PoolPrompt) -> str:
    """The instruction text of a single-user-turn prompt."""
    if len(prompt.messages) != 1 or prompt.messages[0].get("role") != "user":
        raise InputError(f"prompt '{prompt.id}' has {len(prompt.messages)} messages; an "
                         "AlpacaEval instruction is a single user turn", field="messages")
    return prompt.messages[0]["content"]


def _output_row(prompts: dict[str, PoolPrompt], bundle: ImportBundle, generator: str, pid: str,
                fields: dict[str, Any]) -> dict[str, Any]:
    return {"instruction": _instruction(_prompt(prompts, pid)),
            "output": bundle.outputs[generator][pid], "generator": generator, **fields}



def _annotation_row(prompts: dict[str, PoolPrompt], bundle: ImportBundle,
                    j: ImportedJudgment) -> dict[str, Any]:
    extra = dict(j.extra) if bundle.source == "alpaca_eval" else {}
    first = extra.pop("output_1") if "output_1" in extra else bundle.answer(j.model_first,
                                                                        j.prompt_id)
    second = extra.pop("output_2") if "output_2" in extra else bundle.answer(j.model_second,
                                                                         j.prompt_id)
    row: dict[str, Any] = {
        "instruction": _instruction(_prompt(prompts, j.prompt_id)),
        "output_1": first, "generator_1": j.model_first,
        "output_2": second, "generator_2": j.model_second,
        "annotator": extra.pop("annotator") if "annotator" in extra else j.judge,
        "preference": extra.pop("preference") if "preference" in extra else _preference(j),
    }
    if row["annotator"] == _ABSENT:
        del row["annotator"]
    if j.raw is not None:
        row["raw_completion"] = j.raw
    row.update(extra)
    return row


def _preference(j: ImportedJudgment) -> float | None:
    """AlpacaEval's preference (1 to 2, 1.5 a draw, null missing) for a judgment."""
    if j.preference is not None:
        return 1.0 + j.preference
    return {"A": 1.0, "B": 2.0, "tie": 1.5}.get(j.label or "")
