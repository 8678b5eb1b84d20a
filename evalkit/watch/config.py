"""``[watch]`` in evalkit.toml → frozen dataclasses. Every problem is a one-line ``ConfigError``.

    [watch]
    chain = "discovery"            # discovery | step | parent
    poll_interval = 60             # seconds between polls of the sources
    report_dir = "watch-reports"   # the gate's Markdown and JSON per checkpoint
    webhook = "https://…"          # optional: POST of the gate's JSON per checkpoint

    [watch.sources.fleet]          # a server's GET /v1/models: a new id is a new checkpoint
    kind = "models"
    base_url = "http://127.0.0.1:8000/v1"
    include = ["rlhf-*"]

    [watch.checkpoint_template]    # a discovered id → a checkpoint spec, as [checkpoints.*]
    model = "{id}"

    [watch.plan]
    pools = ["rlhf_prompts"]
    against = ["previous", "promoted"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

KINDS = ("models", "folder")
CHAIN_RULES = ("discovery", "step", "parent")
AGAINST = ("previous", "promoted")
COMPLETE_RULES = ("stable", "marker")
DEFAULT_STEP_PATTERN = r"(\d+)"


@dataclass(frozen=True)
class SourceConfig:
    """One place new checkpoints appear: a server's model list or a folder."""

    name: str
    kind: str  # "models" | "folder"
    include: tuple[str, ...] = ()  # glob patterns on the id; empty: everything
    exclude: tuple[str, ...] = ()
    template: dict[str, Any] | None = None  # this source's own checkpoint template
    # models
    base_url: str = ""
    api_key_env: str | None = None
    timeout: float = 10.0
    # folder
    path: str = ""
    pattern: str = "*"  # which entries of the folder are checkpoints (glob on the name)
    complete: str = "stable"  # "stable": unchanged for stable_for s; "marker": a file exists
    stable_for: float = 30.0
    marker: str = "{name}.done"  # relative to the folder; {name} entry name, {id} its stem


@dataclass(frozen=True)
class PlanConfig:
    """What runs for each new checkpoint, in this order: the contamination-excluded
    comparisons, the comparisons, the benchmark suites, then the gate."""

    pools: tuple[str, ...] = ()  # default: [gate] pool, else [defaults] pool
    judges: tuple[str | None, ...] = (None,)  # None: the default judge
    against: tuple[str, ...] = AGAINST
    bench: tuple[str, ...] = ()  # suites run on the checkpoint (and its baselines)
    bench_limit: int | None = None
    exclude_contaminated: tuple[str, ...] = ()  # corpora: a clean-only variant of each compare
    gate: bool = True
    gate_exclude_contaminated: str | None = None


@dataclass(frozen=True)
class WatchConfig:
    sources: tuple[SourceConfig, ...]
    template: dict[str, Any] = field(default_factory=dict)
    plan: PlanConfig = field(default_factory=PlanConfig)
    chain: str = "discovery"
    step_pattern: str = DEFAULT_STEP_PATTERN
    poll_interval: float = 60.0
    report_dir: str = "watch-reports"
    webhook: str | None = None
    webhook_token_env: str | None = None
    webhook_timeout: float = 10.0
    retry_base: float = 30.0  # seconds before the first retry of a failing checkpoint
    retry_max: float = 3600.0  # the backoff doubles up to this
    max_attempts: int = 8  # then the checkpoint is 'failed' (evalkit watch --retry-failed)
    backfill: bool = True  # False: what the sources list on the very first poll is not evaluated

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)

    def template_for(self, source: SourceConfig | None) -> dict[str, Any]:
        """The template a source's checkpoints are made from: its own; else, for a models
        source, the shared one; for a folder source, the shared one when it uses ``{path}``
        (a template for folder entries), else replay files (``backend = "replay"``,
        ``path = "{path}"``)."""
        if source is not None and source.template is not None:
            return source.template
        if source is not None and source.kind == "folder" and "{path}" not in repr(
                self.template):
            return {"backend": "replay", "path": "{path}"}
        return self.template


_TOP = {"sources", "checkpoint_template", "plan", "chain", "step_pattern", "poll_interval",
        "report_dir", "webhook", "webhook_token_env", "webhook_timeout", "retry_base",
        "retry_max", "max_attempts", "backfill"}
_SOURCE = {"kind", "include", "exclude", "checkpoint_template", "base_url", "api_key_env",
           "timeout", "path", "pattern", "complete", "stable_for", "marker"}
_PLAN = {"pools", "judges", "against", "bench", "bench_limit", "exclude_contaminated", "gate",
         "gate_exclude_contaminated"}


def _check_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(allowed))})")


def _get(where: str, table: dict[str, Any], key: str, kind: type | tuple[type, ...],
         default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, int) and not isinstance(value, bool) and kind in (float, (int, float)):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        name = getattr(kind, "__name__", "number")
        raise ConfigError(f"{where}.{key}: expected {name}, got {type(value).__name__}")
    return value


def _strings(where: str, table: dict[str, Any], key: str, default: tuple[str, ...] = ()
             ) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key}: expected a list of names")
    return tuple(value)


def _positive(where: str, name: str, value: float) -> float:
    if value <= 0:
        raise ConfigError(f"{where}.{name}: must be positive, got {value:g}")
    return value


def parse_watch(raw: Any, where: str, base: Path | None = None) -> WatchConfig:
    """``raw`` is the ``[watch]`` table; ``base`` the config file's folder (relative folder
    paths and the report folder resolve against it)."""
    where = f"{where}: watch"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    _check_keys(where, raw, _TOP)
    base = base or Path.cwd()
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, dict) or not sources_raw:
        raise ConfigError(f"{where}: no sources; add a [watch.sources.NAME] table with kind = "
                          "\"models\" (a server's /v1/models) or \"folder\"")
    sources = tuple(_source(f"{where}.sources.{n}", n, t, base) for n, t in sources_raw.items())
    template = raw.get("checkpoint_template", {})
    if not isinstance(template, dict):
        raise ConfigError(f"{where}.checkpoint_template: expected a table")
    chain = _get(where, raw, "chain", str, "discovery")
    if chain not in CHAIN_RULES:
        raise ConfigError(f"{where}.chain: '{chain}' is not one of {', '.join(CHAIN_RULES)}")
    pattern = _get(where, raw, "step_pattern", str, DEFAULT_STEP_PATTERN)
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}.step_pattern: not a regular expression ({exc})") from None
    if compiled.groups > 1:
        raise ConfigError(f"{where}.step_pattern: at most one group (the step number)")
    webhook = _get(where, raw, "webhook", str, None)
    if webhook is not None and not re.match(r"^https?://[^/\s]+", webhook):
        raise ConfigError(f"{where}.webhook: expected an http(s) URL")
    max_attempts = _get(where, raw, "max_attempts", int, 8)
    if max_attempts < 1:
        raise ConfigError(f"{where}.max_attempts: must be at least 1")
    plan = raw.get("plan", {})
    if not isinstance(plan, dict):
        raise ConfigError(f"{where}.plan: expected a table")
    report_dir = Path(_get(where, raw, "report_dir", str, "watch-reports"))
    cfg = WatchConfig(
        sources=sources, template=template, plan=_plan(f"{where}.plan", plan), chain=chain,
        step_pattern=pattern,
        poll_interval=_positive(where, "poll_interval",
                                _get(where, raw, "poll_interval", float, 60.0)),
        report_dir=str(report_dir if report_dir.is_absolute() else base / report_dir),
        webhook=webhook, webhook_token_env=_get(where, raw, "webhook_token_env", str, None),
        webhook_timeout=_positive(where, "webhook_timeout",
                                  _get(where, raw, "webhook_timeout", float, 10.0)),
        retry_base=_positive(where, "retry_base", _get(where, raw, "retry_base", float, 30.0)),
        retry_max=_positive(where, "retry_max", _get(where, raw, "retry_max", float, 3600.0)),
        max_attempts=max_attempts, backfill=_get(where, raw, "backfill", bool, True))
    from .template import check_template

    for source in cfg.sources:  # every source's template must make a valid checkpoint now
        check_template(cfg, source, where)
    return cfg


def _source(where: str, name: str, raw: Any, base: Path) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    _check_keys(where, raw, _SOURCE)
    kind = _get(where, raw, "kind", str, "")
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind: expected \"models\" (a server's /v1/models) or "
                          "\"folder\"" + (f", got '{kind}'" if kind else ""))
    template = raw.get("checkpoint_template")
    if template is not None and not isinstance(template, dict):
        raise ConfigError(f"{where}.checkpoint_template: expected a table")
    common = {"name": name, "kind": kind, "include": _strings(where, raw, "include"),
              "exclude": _strings(where, raw, "exclude"), "template": template}
    if kind == "models":
        _only(where, raw, {"base_url", "api_key_env", "timeout"}, kind)
        url = _get(where, raw, "base_url", str, "")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{where}.base_url: expected the http(s) /v1 base of an "
                              "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
        return SourceConfig(**common, base_url=url.rstrip("/"),
                            api_key_env=_get(where, raw, "api_key_env", str, None),
                            timeout=_positive(where, "timeout",
                                              _get(where, raw, "timeout", float, 10.0)))
    _only(where, raw, {"path", "pattern", "complete", "stable_for", "marker"}, kind)
    path = Path(_get(where, raw, "path", str, ""))
    if not str(path) or str(path) == ".":
        raise ConfigError(f"{where}.path: the folder to watch is required")
    complete = _get(where, raw, "complete", str, "stable")
    if complete not in COMPLETE_RULES:
        raise ConfigError(f"{where}.complete: '{complete}' is not \"stable\" (unchanged for "
                          "stable_for seconds) or \"marker\" (a marker file exists)")
    return SourceConfig(**common, path=str(path if path.is_absolute() else base / path),
                        pattern=_get(where, raw, "pattern", str, "*"), complete=complete,
                        stable_for=_get(where, raw, "stable_for", float, 30.0),
                        marker=_get(where, raw, "marker", str, "{name}.done"))


def _only(where: str, raw: dict[str, Any], keys: set[str], kind: str) -> None:
    other = {"base_url", "api_key_env", "timeout", "path", "pattern", "complete", "stable_for",
             "marker"} - keys
    wrong = sorted(set(raw) & other)
    if wrong:
        raise ConfigError(f"{where}.{wrong[0]}: not a key of a \"{kind}\" source")


def _plan(where: str, raw: dict[str, Any]) -> PlanConfig:
    _check_keys(where, raw, _PLAN)
    against = _strings(where, raw, "against", AGAINST)
    for a in against:
        if a not in AGAINST:
            raise ConfigError(f"{where}.against: '{a}' is not 'previous' or 'promoted'")
    judges: tuple[str | None, ...] = _strings(where, raw, "judges") or (None,)
    limit = _get(where, raw, "bench_limit", int, None)
    if limit is not None and limit < 1:
        raise ConfigError(f"{where}.bench_limit: must be at least 1")
    return PlanConfig(pools=_strings(where, raw, "pools"), judges=judges,
                      against=tuple(dict.fromkeys(against)), bench=_strings(where, raw, "bench"),
                      bench_limit=limit,
                      exclude_contaminated=_strings(where, raw, "exclude_contaminated"),
                      gate=_get(where, raw, "gate", bool, True),
                      gate_exclude_contaminated=_get(where, raw, "gate_exclude_contaminated",
                                                     str, None))
