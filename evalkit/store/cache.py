"""What a compare run keeps in memory of stored results: only the fields the pipeline reads.

A 100,000-prompt run holds 200,000 generations and 200,000 judgments. Full rows (13 and 17
fields: token counts, timings, the judge's whole output) as dicts are several times larger than
the fields the pipeline reads, so the full rows go to the store through the BatchWriter and
the run keeps these slim ones (docs/throughput.md, "Scale: 100,000 prompts").

* generation: ``key``, ``response``, ``error`` — a stored failure is not loaded (it is
  retried anyway);
* judgment: ``key``, ``verdict``, ``strength``, ``preference``, ``error`` — every stored row
  (an imported judge's orders are the ones it has).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine

from .models import Generation, Judgment

CHUNK = 500


def slim_generation(row: dict[str, Any]) -> dict[str, Any]:
    return {"key": row["key"], "response": row["response"], "error": row["error"]}


def slim_judgment(row: dict[str, Any]) -> dict[str, Any]:
    return {"key": row["key"], "verdict": row["verdict"], "strength": row["strength"],
            "preference": row.get("preference"), "error": row.get("error")}


def generation_texts(engine: Engine, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored successful generations among ``keys``, slim, by key."""
    t = Generation.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    keys = list(dict.fromkeys(keys))
    with engine.connect() as conn:
        for i in range(0, len(keys), CHUNK):
            q = sa_select(t.c.key, t.c.response).where(t.c.key.in_(keys[i:i + CHUNK]),
                                                       t.c.error.is_(None))
            for key, response in conn.execute(q):
                out[key] = {"key": key, "response": response, "error": None}
    return out


def judgment_verdicts(engine: Engine, judge_spec: str, prompt_hashes: Sequence[str]
                      ) -> dict[str, dict[str, Any]]:
    """Every stored judgment of one judge on the given prompts, slim, by key.

    The query names only the prompt hashes and the judge is picked here: on SQLite (no
    statistics) ``judge_spec = ? AND prompt_hash IN (...)`` is planned on the judge's index,
    which holds every judgment of that judge — a scan of the whole table per chunk (13 s for
    a 100,000-prompt pool, against 1 s this way)."""
    t = Judgment.__table__  # type: ignore[attr-defined]
    out: dict[str, dict[str, Any]] = {}
    hashes = list(dict.fromkeys(prompt_hashes))
    with engine.connect() as conn:
        for i in range(0, len(hashes), CHUNK):
            q = sa_select(t.c.key, t.c.judge_spec, t.c.verdict, t.c.strength, t.c.preference,
                          t.c.error).where(t.c.prompt_hash.in_(hashes[i:i + CHUNK]))
            for key, spec, verdict, strength, preference, error in conn.execute(q):
                if spec == judge_spec:
                    out[key] = {"key": key, "verdict": verdict, "strength": strength,
                                "preference": preference, "error": error}
    return out
