"""Why requests failed, grouped: what a run prints before its table and keeps in ``--json``.

Every failed row (a generation or a judgment with an error) of a run is put in one group per
(role, checkpoint or judge, endpoint, reason class), with a count, one example message and,
where evalkit can tell, what to do ("check OPENAI_API_KEY", "is model 'x' served there?").
Messages and endpoints are already redacted when they get here (the chat client redacts every
error; endpoints are shown with ``mask_userinfo``); the example is masked once more anyway.

A run in which *nothing could be judged* (every prompt failed) is not stored as a comparison
and ``evalkit compare`` exits with ``EXIT_NOTHING_JUDGED``; its failed rows are stored, so the
next run retries exactly them (docs/reliability.md, "Faults and failure reports").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .redact import mask_url, mask_userinfo

EXIT_NOTHING_JUDGED = 3

_HTTP = re.compile(r"^HTTP (\d{3})\b")
_TIMEOUT = re.compile(r"^timeout after (\S+)")
_STATUS_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
                 422: "Unprocessable Entity", 429: "Too Many Requests",
                 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Timeout"}


@dataclass(frozen=True)
class FailureGroup:
    """Failed requests of one role at one endpoint for one reason."""

    role: str  # "baseline" | "candidate" | "judge"
    name: str  # the checkpoint's or judge's name
    endpoint: str | None  # base URL (credentials masked); None for replayed/imported answers
    reason: str  # class: connection_refused, unreachable, timeout, http_401, http_5xx, …
    count: int  # failed requests (rows) in this group
    example: str  # one of the error messages, as stored
    hint: str | None = None  # what to do about it, when evalkit can tell

    def line(self) -> str:
        """``40 failed: connection refused at http://127.0.0.1:8000/v1 (baseline sft-v3)``."""
        text = f"{self.count} failed: {_phrase(self)} ({self.role} {self.name})"
        return text + (f": {self.hint}" if self.hint else "")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.line()}


@dataclass(frozen=True)
class FailureReport:
    """A run's failures: the groups, and how many prompt × sample items failed."""

    groups: tuple[FailureGroup, ...]
    items: int
    failed_items: int

    @property
    def nothing_judged(self) -> bool:
        """Every item failed: there is no result, only reasons."""
        return self.items > 0 and self.failed_items == self.items

    def lines(self) -> list[str]:
        return [g.line() for g in self.groups]


def classify(error: str) -> str:
    """The reason class of one stored error message."""
    m = _HTTP.match(error)
    if m:
        status = int(m.group(1))
        return "http_5xx" if 500 <= status <= 599 else f"http_{status}"
    for prefix, reason in (("connection refused", "connection_refused"),
                           ("cannot connect", "unreachable"), ("timeout", "timeout"),
                           ("connection error", "connection_error"),
                           ("malformed response", "malformed_response"),
                           ("empty response", "empty_response"),
                           ("content filtered", "content_filter")):
        if error.startswith(prefix):
            return reason
    if "no response for prompt" in error or "has no verdict" in error:
        return "missing_answer"
    return "other"


def failure_report(items: Sequence[dict[str, Any]], generations: dict[str, dict[str, Any]],
                   judgments: dict[str, dict[str, Any]], baseline: Any, candidate: Any,
                   judge: Any) -> FailureReport:
    """Group the failed rows behind a run's items (``items`` as ``Comparer.run`` makes them;
    ``generations``/``judgments``: rows by key; the three request sources, for names,
    endpoints and hints)."""
    failed: dict[str, dict[str, str]] = {"baseline": {}, "candidate": {}, "judge": {}}
    for it in items:
        for role, field in (("baseline", "gen_baseline"), ("candidate", "gen_candidate")):
            row = generations.get(it.get(field) or "")
            if row is not None and row.get("error"):
                failed[role][row["key"]] = row["error"]
        for field in ("judgment_cand_first", "judgment_base_first"):
            row = judgments.get(it.get(field) or "")
            if row is not None and row.get("error") and row.get("verdict") is None:
                failed["judge"][row["key"]] = row["error"]
    sources = {"baseline": baseline, "candidate": candidate, "judge": judge}
    groups = [g for role, rows in failed.items() for g in _group(role, sources[role], rows)]
    groups.sort(key=lambda g: (-g.count, g.role, g.reason))
    n_failed = sum(1 for it in items if it.get("outcome") == "failed")
    return FailureReport(tuple(groups), len(items), n_failed)


def failure_groups(role: str, source: Any, rows: dict[str, str]) -> list[FailureGroup]:
    """The groups of one request source's failed rows (``rows``: key -> stored error), for
    pipelines other than compare (``evalkit score``: role "checkpoint" or "reward_model")."""
    return list(_group(role, source, rows))


def _group(role: str, source: Any, rows: dict[str, str]) -> Iterable[FailureGroup]:
    config = source.config
    endpoint_cfg = getattr(config, "endpoint", None)
    urls = [mask_userinfo(u) for u in getattr(endpoint_cfg, "urls", ())]
    failed_at: dict[str, str] = getattr(source, "failed_at", {})
    found: dict[tuple[str | None, str], list[str]] = {}
    for key, error in rows.items():
        where = failed_at.get(key) or (urls[0] if len(urls) == 1 else None)
        if config.backend in ("replay", "imported"):
            where = None
        found.setdefault((where, classify(error)), []).append(error)
    for (where, reason), errors in found.items():
        yield FailureGroup(role=role, name=config.name, endpoint=where, reason=reason,
                           count=len(errors), example=mask_url(errors[0])[:300],
                           hint=_hint(reason, role, endpoint_cfg))


def _hint(reason: str, role: str, ep: Any) -> str | None:
    if ep is None:
        return None
    model = getattr(ep, "model", "")
    key_env = getattr(ep, "api_key_env", None)
    if reason in ("http_401", "http_403"):
        if key_env:
            return f"check {key_env}"
        if getattr(ep, "url_key", None):
            return "check the token in base_url"
        return f"no API key is configured for the {role}: set api_key_env"
    if reason == "http_404" and role == "reward_model":  # pooling servers: no /models check
        return (f"is reward model '{model}' served there, on the route its backend uses "
                "(vllm: /classify or /pooling; tei: /predict)?")
    if reason == "http_404":
        return f"is model '{model}' served there? (evalkit checks /models before a run)"
    if reason == "http_429":
        return "rate-limited after every retry: lower max_concurrency"
    if reason in ("connection_refused", "unreachable"):
        return "is the server running?"
    if reason == "timeout":
        return "no answer in time: raise timeout, or check the server"
    if reason == "content_filter":
        return "refused by the endpoint's content filter; never counted as a loss"
    return None


def _phrase(g: FailureGroup) -> str:
    at = f" at {g.endpoint}" if g.endpoint else ""
    frm = f" from {g.endpoint}" if g.endpoint else ""
    if g.reason.startswith("http_") and g.reason != "http_5xx":
        status = int(g.reason[5:])
        return f"{status} {_STATUS_NAMES.get(status, 'error')}{frm}"
    phrases = {"connection_refused": f"connection refused{at}",
               "unreachable": f"cannot connect{at}",
               "timeout": f"{_timeout(g.example)}{at}",
               "http_5xx": f"server errors{frm} after every retry ({_status(g.example)})",
               "connection_error": f"connection dropped{at} after every retry",
               "malformed_response": f"malformed responses{frm} after every retry",
               "empty_response": f"empty responses{frm} after every retry",
               "content_filter": f"content filtered{at}",
               "missing_answer": "no stored answer"}
    return phrases.get(g.reason, g.example)


def _timeout(example: str) -> str:
    m = _TIMEOUT.match(example)
    return f"timeout after {m.group(1)}" if m else "timeout"


def _status(example: str) -> str:
    m = _HTTP.match(example)
    return f"HTTP {m.group(1)}" if m else "HTTP 5xx"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What a stored or fresh summary says about its failures, for people."""
    groups = summary.get("failures") or []
    o = summary.get("overall") or {}
    if not groups:
        return []
    total = sum(o.get(k, 0) for k in ("wins", "ties", "losses", "invalid", "failed"))
    head = (f"{o.get('failed', 0)} of {total} prompt items failed (excluded, never counted as "
            "losses; failed requests are retried on the next run):")
    if summary.get("comparison_id") is None:
        head = ("nothing could be judged: no comparison was stored; fix the cause and run "
                "again (completed work is kept):")
    return [head, *("  " + g["message"] for g in groups)]
