"""The dashboard's queries give the same answers on PostgreSQL as on SQLite: the same
comparisons run through the real CLI into a SQLite file and a PostgreSQL database, then every
query of ``evalkit.store.dashboard_queries`` (and the leaderboard) is compared."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import make_scenario, run_cli, write_config, write_pool

from evalkit.leaderboard import build_leaderboard
from evalkit.store import dashboard_queries as dq
from evalkit.store import make_engine

VOLATILE = {"id", "comparison_id", "created_at", "latest", "duration_s", "pool_id",
            "previous_id", "latency", "at"}


def _clean(value: Any) -> Any:
    """Drop ids and timestamps (they differ between the two runs), round floats."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items())
                if k not in VOLATILE and not k.endswith("_at") and "latency" not in k}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    if hasattr(value, "isoformat"):
        return None
    return value


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_server: Any) -> dict[str, Any]:
    from evalkit.testing import ScriptedServer

    tmp = tmp_path_factory.mktemp("dq")
    srv = ScriptedServer(make_scenario(tie_prob=0.2)).start()
    try:
        write_pool(tmp / "pool.jsonl", 30)
        write_config(tmp / "evalkit.toml", srv.base_url)
        urls = {"sqlite": f"sqlite:///{tmp / 'store.db'}", "postgresql": pg_server.create_database()}
        for url in urls.values():
            run_cli(["pool", "import", "small", "pool.jsonl", "--db", url], tmp)
            for base, cand in (("base", "cand"), ("base", "third"), ("third", "cand")):
                run_cli(["compare", base, cand, "--pool", "small", "--db", url], tmp)
    finally:
        srv.stop()
    return {name: make_engine(url, create=False) for name, url in urls.items()}


def _both(stores: dict[str, Any], fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    return (_clean(fn(stores["sqlite"], *args, **kwargs)),
            _clean(fn(stores["postgresql"], *args, **kwargs)))


def _ids(engine: Any) -> list[str]:
    return [c["id"] for c in sorted(dq.comparisons(engine, "small"),
                                    key=lambda c: (c["baseline"], c["candidate"]))]


def test_overview_judges_tags_and_comparisons_agree(stores: dict[str, Any]) -> None:
    for fn, args in ((dq.pools_overview, ()), (dq.judges_for_pool, ("small",)),
                     (dq.tag_names, ("small",)), (dq.tag_values, ("small", "category"))):
        lite, pg = _both(stores, fn, *args)
        assert lite == pg and lite, fn.__name__
    key = lambda c: (c["baseline"], c["candidate"])  # noqa: E731
    lite = sorted(dq.comparisons(stores["sqlite"], "small"), key=key)
    pg = sorted(dq.comparisons(stores["postgresql"], "small"), key=key)
    assert _clean(lite) == _clean(pg) and len(lite) == 3


def test_per_comparison_queries_agree(stores: dict[str, Any]) -> None:
    for lite_id, pg_id in zip(_ids(stores["sqlite"]), _ids(stores["postgresql"]), strict=True):
        for fn in (dq.comparison_record, dq.provenance, dq.sample_facets):
            a = _clean(fn(stores["sqlite"], lite_id))
            b = _clean(fn(stores["postgresql"], pg_id))
            assert a == b and a, fn.__name__
        filters = [dq.SampleFilter(), dq.SampleFilter(outcomes=("win", "tie")),
                   dq.SampleFilter(flipped=True), dq.SampleFilter(tag=("category", "math")),
                   dq.SampleFilter(search="STEP by step"), dq.SampleFilter(search="q01")]
        for f in filters:
            rows_a, total_a = dq.sample_page(stores["sqlite"], lite_id, f, limit=50)
            rows_b, total_b = dq.sample_page(stores["postgresql"], pg_id, f, limit=50)
            assert total_a == total_b and _clean(rows_a) == _clean(rows_b), f
        assert total_a > 0  # the id search finds q010…q019
        detail_a = dq.sample_detail(stores["sqlite"], lite_id, 3)
        detail_b = dq.sample_detail(stores["postgresql"], pg_id, 3)
        assert _clean(detail_a) == _clean(detail_b) and detail_a
        counts_a = dq.tag_outcome_counts(stores["sqlite"], [lite_id], "category", "law")
        counts_b = dq.tag_outcome_counts(stores["postgresql"], [pg_id], "category", "law")
        assert list(_clean(counts_a).values()) == list(_clean(counts_b).values())


def test_leaderboard_agrees(stores: dict[str, Any]) -> None:
    a = _clean(build_leaderboard(stores["sqlite"], "small", rounds=50))
    b = _clean(build_leaderboard(stores["postgresql"], "small", rounds=50))
    assert a["ratings"] == b["ratings"] and len(a["ratings"]) == 3
