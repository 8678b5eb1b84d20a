"""The benchmarks page's access to the store: stored lm-eval runs, paired comparisons and the
transfer check (``evalkit.store.bench_queries``, ``evalkit.bench``), each cached for
``data.TTL`` seconds. Results come back as plain dicts (cache-safe)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import streamlit as st

from evalkit.store import bench_queries as bq

from . import data

N_BOOT = 2_000  # resamples for the page's paired CIs (the CLI uses 10,000)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def suites(url: str) -> list[str]:
    if not data.store_ready(url):
        return []
    try:
        return bq.suites(data.engine(url))
    except Exception:  # a store from before the benchmark tables: nothing to show
        return []


@st.cache_data(ttl=data.TTL, show_spinner=False)
def overview(url: str, suite: str) -> list[dict[str, Any]]:
    """One row per (checkpoint, task): the latest run's primary metric with its 95% CI."""
    rows = []
    for run in bq.suite_overview(data.engine(url), suite):
        m = run.metrics.get(run.primary_metric, {})
        value, se = m.get("value"), m.get("stderr")
        rows.append({"checkpoint": run.checkpoint, "task": run.task,
                     "metric": run.primary_metric, "value": value, "stderr": se,
                     "ci_low": None if value is None or se is None else value - 1.96 * se,
                     "ci_high": None if value is None or se is None else value + 1.96 * se,
                     "n": run.n_samples, "mode": run.mode, "run": run.id,
                     "lm_eval": run.lm_eval_version, "created_at": str(run.created_at)[:19]})
    return rows


@st.cache_data(ttl=data.TTL, show_spinner=False)
def order(url: str, suite: str) -> list[str]:
    return bq.checkpoint_order(data.engine(url), suite)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def compare(url: str, suite: str, baseline: str, candidate: str) -> dict[str, Any]:
    from evalkit.bench.compare import compare_checkpoints
    from evalkit.errors import EvalkitError

    try:
        return compare_checkpoints(data.engine(url), suite, baseline, candidate,
                                   n_boot=N_BOOT).as_dict()
    except EvalkitError as exc:
        return {"error": str(exc)}


@st.cache_data(ttl=data.TTL, show_spinner=False)
def transfer(url: str, suite: str, pool: str, judge: str | None) -> dict[str, Any]:
    from evalkit.bench.transfer import transfer as run_transfer
    from evalkit.errors import EvalkitError

    try:
        report = run_transfer(data.engine(url), suite, pool, judge=judge, n_boot=N_BOOT)
    except EvalkitError as exc:
        return {"error": str(exc)}
    out = report.as_dict()
    out["steps_raw"] = [asdict(s.pairwise) if s.pairwise else None for s in report.steps]
    return out
