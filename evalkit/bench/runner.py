"""``evalkit bench CKPT --suite S``: run a suite's lm-eval tasks on a checkpoint and store
every metric, standard error and sample.

The flow: read the suite (no lm-eval yet); find the stored run of each task — keyed by the
checkpoint's spec hash, how it is asked, the task's definition and data by content, the limit
and the lm-eval version — and reuse it when it exists (a rerun imports nothing heavy and makes
no request); say in one line which tasks the checkpoint cannot run; then run the rest through
lm-eval's Python API: ``simple_evaluate`` with a ``TaskManager(include_path=<suite folder>)``,
``log_samples=True``, one call per way of asking (chat, completions, hf), the suite's own
tasks passed as their configs with ``data_files`` resolved against the suite folder. The model
is wrapped in ``cache.CachedLM`` so every answer is stored as it arrives and nothing stored is
asked again (lm-eval's own request cache stays off: it is keyed without the model).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as _version
from typing import Any

from sqlalchemy.engine import Engine

from .. import __version__
from ..errors import BackendError, ConfigError, EvalkitError
from ..hashing import content_hash
from ..redact import mask_urls_in, redact
from ..store import bench_queries
from .models import Modes, make_lm, modes_for
from .records import (
    BenchReport,
    Skipped,
    TaskResult,
    resolve_metric,
    sample_rows,
    task_hash,
    task_metrics,
)
from .suites import Suite

RUN_FORMAT = 1  # bump when what a stored run means changes


@dataclass(frozen=True)
class RunOptions:
    limit: int | None = None
    rescore: bool = False  # run lm-eval again on the stored answers (no request is repeated)
    tasks: tuple[str, ...] = ()  # a subset of the suite's tasks
    progress: bool = False


def lm_eval_version() -> str:
    return _version("lm_eval")


def run_id(spec_hash: str, modes: Modes, suite: Suite, task: str, limit: int | None,
           version: str) -> str:
    """A task run's key: the checkpoint, how it is asked for this task (both ways for a
    built-in task, whose output type is known only to lm-eval), the task's definition and
    data by content, the limit and the lm-eval version."""
    src = suite.sources.get(task)
    how = ([modes.generate, modes.loglikelihood] if src is None
           else modes.for_output(src.output_type))
    return content_hash({"format": RUN_FORMAT, "spec": spec_hash, "modes": how,
                         "suite": suite.name, "task": task,
                         "source": suite.source_hash(task, version), "limit": limit}, 32)


def run_suite(config: Any, checkpoint: str, suite: Suite, options: RunOptions = RunOptions(),
              *, engine: Engine, notify: Callable[[str], None] = lambda line: None
              ) -> BenchReport:
    """Run (or find) every task of ``suite`` on ``checkpoint``; ``notify`` gets one line per
    thing the user should know before the run starts (tasks the checkpoint cannot run)."""
    started = time.perf_counter()
    ckpt = config.checkpoint(checkpoint)
    modes = modes_for(ckpt)
    version = lm_eval_version()
    names = _task_names(suite, options.tasks)
    skipped: list[Skipped] = []
    for name in names:
        src = suite.sources.get(name)
        if src is not None and modes.for_output(src.output_type) is None:
            skipped.append(Skipped(name, modes.why_not(src.output_type)))
    ids = {n: run_id(ckpt.spec_hash, modes, suite, n, options.limit, version) for n in names}
    stored = {} if options.rescore else bench_queries.runs_by_id(engine, list(ids.values()))
    todo = [n for n in names if ids[n] not in stored and n not in {s.task for s in skipped}]
    _say_skipped(notify, checkpoint, skipped)
    counts = {"cached": 0, "sent": 0}
    if todo:
        from ..store.queries import save_checkpoint_spec

        save_checkpoint_spec(engine, ckpt.name, ckpt.spec_hash, ckpt.identity())
        late = _evaluate(ckpt, modes, suite, todo, ids, options, engine, version, counts,
                         notify)
        skipped += late
    done = bench_queries.runs_by_id(engine, [ids[n] for n in names])
    results = []
    for name in names:
        run = done.get(ids[name])
        if run is None:
            continue
        metric = resolve_metric(suite.task(name).metric, run.metrics,
                                f"{suite.path}: tasks.{name}.metric")
        value = run.metrics[metric]
        results.append(TaskResult(
            task=name, run_id=run.id, metric=metric, value=value["value"],
            stderr=value["stderr"], n=run.n_samples, higher_is_better=run.higher_is_better,
            metrics=run.metrics, mode=run.mode, reused=name not in todo,
            task_hash=run.task_hash, requests=run.requests))
    return BenchReport(checkpoint=checkpoint, checkpoint_spec=ckpt.spec_hash, suite=suite.name,
                       results=tuple(results), skipped=tuple(skipped),
                       requests=counts,
                       lm_eval_version=version, limit=options.limit,
                       duration_s=time.perf_counter() - started)


def _task_names(suite: Suite, wanted: tuple[str, ...]) -> list[str]:
    names = [t.name for t in suite.tasks]
    for w in wanted:
        if w not in names:
            raise ConfigError(f"--task {w}: suite '{suite.name}' has no such task (tasks: "
                              f"{', '.join(names)})")
    return [n for n in names if not wanted or n in wanted]


def _say_skipped(notify: Callable[[str], None], checkpoint: str, skipped: list[Skipped]
                 ) -> None:
    if skipped:
        tasks = ", ".join(s.task for s in skipped)
        notify(f"{checkpoint} cannot run {tasks}: {skipped[0].reason}; running the other "
               "tasks")


def _quiet(progress: bool) -> None:
    logging.getLogger("lm_eval").setLevel(logging.INFO if progress else logging.CRITICAL)
    # lm-eval abandons its other requests when one fails for good; asyncio would log each
    # one's "exception was never retrieved" at exit, after evalkit's one-line reason
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        import datasets

        datasets.disable_progress_bars() if not progress else None
        datasets.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - lm-eval depends on datasets
        pass


def _evaluate(ckpt: Any, modes: Modes, suite: Suite, todo: list[str], ids: dict[str, str],
              options: RunOptions, engine: Engine, version: str, counts: dict[str, int],
              notify: Callable[[str], None]) -> list[Skipped]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    _quiet(options.progress)
    builtin = [n for n in todo if suite.builtin(n)]
    tm = TaskManager(include_path=str(suite.folder), include_defaults=bool(builtin))
    groups: dict[tuple[str, int | None, str], list[str]] = {}
    skipped: list[Skipped] = []
    types: dict[str, str | None] = {}
    for name in todo:
        entry = tm.task_index.get(name)
        if entry is None:
            raise ConfigError(f"{suite.path}: tasks.{name}: no such lm-eval task (not defined "
                              "in the suite folder, not one of lm-eval's tasks)")
        if entry.kind.name not in ("TASK", "PY_TASK"):
            raise ConfigError(f"{suite.path}: tasks.{name}: is an lm-eval group or tag; list "
                              "its tasks one by one")
        types[name] = (entry.cfg or {}).get("output_type")
        mode = modes.for_output(types[name])
        if mode is None:
            skipped.append(Skipped(name, modes.why_not(types[name])))
            continue
        t = suite.task(name)
        key = ((mode, None, "") if not suite.builtin(name) else
               (mode, t.num_fewshot, json.dumps(t.gen_kwargs, sort_keys=True)))
        groups.setdefault(key, []).append(name)
    _say_skipped(notify, ckpt.name, skipped)
    problems: list[str] = []
    for (mode, shots, gen), names in groups.items():
        specs = [name if suite.builtin(name) else _custom_config(tm, suite, name)
                 for name in names]
        began = time.perf_counter()
        out, lm = _simple_evaluate(lm_eval, tm, ckpt, mode, suite, specs, options, engine,
                                   num_fewshot=shots, gen_kwargs=json.loads(gen) if gen else None)
        counts["cached"] += lm.cached
        counts["sent"] += lm.sent
        call = {"cached": lm.cached, "sent": lm.sent,
                "seconds": round(time.perf_counter() - began, 3)}
        for name in names:
            problem = _store(engine, out, ckpt, suite, name, ids[name], mode, types[name],
                             options, version, call)
            if problem:
                problems.append(problem)
    if problems:
        raise ConfigError(problems[0])
    return skipped


def _custom_config(tm: Any, suite: Suite, name: str) -> dict[str, Any]:
    """The task's config as lm-eval indexed it, its data files resolved against the suite
    folder and the suite's settings applied."""
    cfg = copy.deepcopy(tm.task_index[name].cfg)
    if "!function" in json.dumps(cfg, default=str) or _has_callable(cfg):
        raise ConfigError(f"{suite.sources[name].yaml_path}: task {name} uses !function; "
                          "evalkit suites are declarative (regex filters and lm-eval's "
                          "metrics), so the YAML never runs Python")
    src = suite.sources[name]
    if src.resolved is not None:
        kwargs = dict(cfg.get("dataset_kwargs") or {})
        kwargs["data_files"] = src.resolved
        cfg["dataset_kwargs"] = kwargs
    t = suite.task(name)
    if t.num_fewshot is not None:
        cfg["num_fewshot"] = t.num_fewshot
    if t.gen_kwargs:
        cfg["generation_kwargs"] = {**(cfg.get("generation_kwargs") or {}), **t.gen_kwargs}
    for key in ("tag", "group", "include"):
        cfg.pop(key, None)
    return cfg


def _has_callable(obj: Any) -> bool:
    if callable(obj):
        return True
    if isinstance(obj, dict):
        return any(_has_callable(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_has_callable(v) for v in obj)
    return False


def _simple_evaluate(lm_eval: Any, tm: Any, ckpt: Any, mode: str, suite: Suite,
                     specs: list[Any], options: RunOptions, engine: Engine, *,
                     num_fewshot: int | None, gen_kwargs: dict[str, Any] | None
                     ) -> tuple[dict[str, Any], Any]:
    from .cache import CachedLM, RequestCache

    cache = RequestCache(engine, ckpt.spec_hash, mode)
    chat_lm = make_lm(ckpt, "chat") if mode == "chat" else None
    lm = CachedLM(cache, (lambda: chat_lm) if chat_lm is not None else
                  (lambda: make_lm(ckpt, mode)), chat_lm=chat_lm, progress=options.progress)
    chat = mode == "chat"
    try:
        with _quiet_git_probe(lm_eval):
            out = lm_eval.simple_evaluate(
                model=lm, tasks=specs, task_manager=tm, limit=options.limit,
                log_samples=True, apply_chat_template=chat, fewshot_as_multiturn=chat,
                system_instruction=ckpt.system_prompt, bootstrap_iters=suite.bootstrap_iters,
                num_fewshot=num_fewshot, gen_kwargs=gen_kwargs)
    except EvalkitError:
        raise
    except Exception as exc:  # lm-eval stops at the first request that fails for good
        raise _failure(exc, ckpt, lm, mode) from None
    finally:
        cache.close()
    return out, lm


@contextmanager
def _quiet_git_probe(lm_eval: Any) -> Iterator[None]:
    """lm-eval records ``git describe`` of whatever the working directory is, in a
    subprocess, and lets git print "fatal: not a git repository" outside one. evalkit records
    its own provenance (versions, task and data hashes), so it skips the probe."""
    import lm_eval.evaluator as evaluator

    original = getattr(evaluator, "get_git_commit_hash", None)
    if original is not None:
        evaluator.get_git_commit_hash = lambda: None
    try:
        yield
    finally:
        if original is not None:
            evaluator.get_git_commit_hash = original


def _failure(exc: BaseException, ckpt: Any, lm: Any, mode: str) -> EvalkitError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    try:
        secret = ckpt.endpoint.api_key(ckpt.name)
    except EvalkitError:
        secret = None
    reason = mask_urls_in(redact(f"{type(exc).__name__}: {first}", [secret]) or "")[:300]
    stored = f"{lm.sent} new answers were stored, {lm.cached} came from the store"
    network = any(k in type(exc).__module__ for k in ("aiohttp", "requests", "urllib3",
                                                       "tenacity")) or "RemoteTokenizer" in first
    if network or isinstance(exc, ConnectionError | TimeoutError):
        attempts = ckpt.endpoint.max_retries + 1
        return BackendError(f"{ckpt.name} ({mode}): a request failed after {attempts} "
                            f"attempt{'s' if attempts > 1 else ''}: {reason}; {stored}; "
                            "run again to resume")
    return ConfigError(f"lm-eval stopped on checkpoint {ckpt.name} ({mode}): {reason}; "
                       f"{stored}")


def _store(engine: Engine, out: dict[str, Any], ckpt: Any, suite: Suite, name: str,
           rid: str, mode: str, output_type: str | None, options: RunOptions, version: str,
           call: dict[str, int]) -> str | None:
    """Store one task's run and samples; returns a problem with the suite's metric, if any."""
    block = out["results"][name]
    metrics = task_metrics(block)
    config = out["configs"][name]
    src = suite.sources.get(name)
    digests = suite.data_digests(name)
    if src is not None and src.resolved is not None:
        config = {**config, "dataset_kwargs": {**(config.get("dataset_kwargs") or {}),
                                               "data_files": src.data_files}}
    problem = None
    try:
        primary = resolve_metric(suite.task(name).metric, metrics,
                                 f"{suite.path}: tasks.{name}.metric")
    except ConfigError as exc:
        problem, primary = str(exc), next(iter(metrics), "")
    higher = out.get("higher_is_better", {}).get(name, {}).get(primary.split(",")[0], True)
    n = out.get("n-samples", {}).get(name, {}).get("effective", len(out["samples"][name]))
    row = {"id": rid, "checkpoint": ckpt.name, "checkpoint_spec": ckpt.spec_hash,
           "suite": suite.name, "task": name, "source_hash": suite.source_hash(name, version),
           "task_hash": task_hash(config, digests), "lm_eval_version": version,
           "evalkit_version": __version__, "mode": mode, "doc_limit": options.limit,
           "num_fewshot": out.get("n-shot", {}).get(name), "primary_metric": primary,
           "higher_is_better": bool(higher), "n_samples": int(n),
           "metrics_json": json.dumps(metrics), "requests_json": json.dumps(call),
           "config_json": json.dumps(config, default=str), "duration_s": call.get("seconds")}
    from ..store.models import utcnow

    row["created_at"] = utcnow()
    bench_queries.save_run(engine, row, sample_rows(rid, out["samples"][name], output_type))
    return problem
