"""Telling people: one summary line per evaluated checkpoint, and the webhook.

The webhook gets a ``POST`` of the gate's JSON report (``evalkit gate --json``'s object) with
two keys added: ``text`` (the summary line, which chat webhooks such as Slack's show) and
``watch`` (the checkpoint, its previous, its promoted baselines and every step's result). It is
sent with a timeout and tried once more after a failure; a failure is reported, never fatal.
The URL is never printed whole (chat webhooks carry their secret in the path).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

RETRY_DELAY = 1.0  # seconds before the one retry


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None = None
    attempts: int = 0
    error: str | None = None

    def line(self, url: str) -> str:
        where = shown_url(url)
        if self.ok:
            return f"webhook {where}: delivered (HTTP {self.status})"
        return f"webhook {where}: not delivered after {self.attempts} attempts: {self.error}"


def shown_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to tell which webhook, no path secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def post_json(url: str, payload: dict[str, Any], *, timeout: float, token_env: str | None = None,
              retry_delay: float = RETRY_DELAY) -> Delivery:
    """POST ``payload`` as JSON; a 2xx is delivered. A connection error, a timeout or a
    non-2xx answer is tried once more after ``retry_delay`` seconds."""
    body = json.dumps(payload, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "evalkit-watch"}
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            return Delivery(False, error=f"environment variable {token_env} is not set "
                            "(webhook_token_env)")
        headers["Authorization"] = f"Bearer {token}"
    error, status = "not sent", None
    for attempt in (1, 2):
        if attempt == 2:
            time.sleep(retry_delay)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                resp.read()
                return Delivery(True, resp.status, attempt)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            status, error = None, str(getattr(exc, "reason", exc))
            if "timed out" in error.lower():
                error = f"no answer within {timeout:g}s"
    return Delivery(False, status, 2, error)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def comparison_phrase(c: dict[str, Any]) -> str:
    ci = c.get("ci") or [None, None]
    role = c.get("against") or ""
    label = f"vs {c['baseline']}" + (f" ({role})" if role else "")
    clean = f" clean of {c['clean_only']}" if c.get("clean_only") else ""
    failed = f", {c['failed']} failed" if c.get("failed") else ""
    return (f"{label}{clean} on {c['pool']}: win rate {_num(c.get('win_rate'))} "
            f"[{_num(ci[0])}, {_num(ci[1])}] n={c.get('n')}{failed}")


def summary_line(name: str, status: str, steps: dict[str, dict[str, Any]],
                 previous: str | None, error: str | None = None) -> str:
    """``watch: r3 (previous r2): vs r2 (previous) on P: win rate 0.61 [0.52, 0.70] n=40 |
    vs sft (promoted) on P: … | gate: pass (exit 0), report watch-reports/r3.md``."""
    head = f"watch: {name}" + (f" (previous {previous})" if previous else " (first of its chain)")
    if status != "done":
        return f"{head}: {status}" + (f": {error}" if error else "")
    parts = []
    seen = set()
    for rec in steps.values():
        res = rec.get("result") or {}
        comparison = res.get("comparison") if "gate_id" in res else res
        if rec.get("status") == "done" and comparison and comparison.get("comparison_id"):
            if comparison["comparison_id"] not in seen:
                seen.add(comparison["comparison_id"])
                parts.append(comparison_phrase(comparison))
        if rec.get("status") == "done" and "suite" in res:
            tasks = ", ".join(f"{t} {_num(v)}" for t, v in res["tasks"].items())
            parts.append(f"bench {res['suite']}: {tasks or 'no task ran'}")
        if rec.get("status") == "error":
            parts.append(f"error: {rec.get('error')}")
    gate = steps.get("gate")
    if gate is not None and gate.get("status") == "done":
        g = gate["result"]
        parts.append(f"gate: {g['decision']} (exit {g['exit_code']}), report {g['markdown']}")
    elif gate is not None and gate.get("status") == "skipped":
        parts.append(f"gate skipped: {gate['result'].get('reason')}")
    return f"{head}: " + (" | ".join(parts) or "nothing to compare against")


def payload(name: str, status: str, steps: dict[str, dict[str, Any]], planned: Any,
            text: str, report: dict[str, Any] | None) -> dict[str, Any]:
    """The webhook body: the gate's report (when the gate ran) plus ``text`` and ``watch``."""
    return {**(report or {}), "text": text,
            "watch": {"checkpoint": name, "status": status,
                      "previous": getattr(planned, "previous", None),
                      "promoted": getattr(planned, "promoted", {}), "steps": steps}}
