"""Preflight: one cheap request to each endpoint a run is about to use, before it generates.

``GET {base_url}/models`` (with the key) to every distinct base URL, all at once, with a short
timeout, catches in seconds what would otherwise fail every request of a long run:

* nothing listening, a name that does not resolve, no answer in time;
* 401/403 (a wrong or missing key);
* a model name the server does not serve (the message lists the ones it does).

A server without ``/models`` (404, 405) is let through, and so is a 5xx (the run retries).
Replayed and imported checkpoints and judges send no requests and are not checked; neither is
an endpoint whose every answer this run needs is already stored. ``--no-preflight`` skips it.
Problems become one ``PreflightError`` line (exit 2), keys and URL credentials masked.
"""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import EvalkitError
from .redact import mask_userinfo, redact

TIMEOUT = 5.0  # seconds, at most (an endpoint's own timeout when that is shorter)


class PreflightError(EvalkitError):
    """An endpoint a run needs cannot serve it (printed as one line; exit 2)."""


@dataclass(frozen=True)
class Target:
    """One role's model at one base URL."""

    role: str  # baseline | candidate | judge
    name: str  # checkpoint or judge name
    base_url: str  # without credentials
    model: str
    api_key: str | None
    key_hint: str  # what to check when the key is refused
    timeout: float

    @property
    def shown(self) -> str:
        return mask_userinfo(self.base_url)


@dataclass(frozen=True)
class Problem:
    target: Target
    message: str  # with "{who}" where the roles it concerns go


def targets(sources: Sequence[tuple[str, Any]]) -> list[Target]:
    """The endpoints of the request-sending sources among ``(role, backend)`` pairs."""
    found = []
    for role, source in sources:
        client = getattr(source, "client", None)
        if client is None:  # replay / imported: nothing to reach
            continue
        ep = source.config.endpoint
        hint = (f"check {ep.api_key_env}" if ep.api_key_env else
                "check the token in base_url" if ep.url_key else
                "no API key is configured: set api_key_env")
        for replica in client.replicas:
            found.append(Target(role, source.config.name, replica.base_url, client.model,
                                client.api_key, hint, min(TIMEOUT, client.timeout)))
    return found


def check(sources: Sequence[tuple[str, Any]]) -> None:
    """Run the preflight; raise ``PreflightError`` naming every problem, on one line."""
    wanted = targets(sources)
    if not wanted:
        return
    problems = asyncio.run(probe(wanted))
    if problems:
        whos: dict[str, list[str]] = {}  # one message per cause, naming everyone it hits
        for p in problems:
            whos.setdefault(p.message, []).append(f"{p.target.role} {p.target.name}")
        text = "; ".join(m.replace("{who}", f"({', '.join(w)})") for m, w in whos.items())
        secrets = {t.api_key for t in wanted}
        raise PreflightError(f"preflight: {redact(text, secrets)} (--no-preflight skips "
                             "this check)")


async def probe(wanted: Sequence[Target]) -> list[Problem]:
    """Ask each distinct (base URL, key) for its models once, concurrently; judge every
    target by its answer."""
    import aiohttp

    by_url: dict[tuple[str, str | None], list[Target]] = {}
    for t in wanted:
        by_url.setdefault((t.base_url, t.api_key), []).append(t)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(
            _models(session, url, key, min(t.timeout for t in group))
            for (url, key), group in by_url.items()))
    problems = []
    for group, answer in zip(by_url.values(), answers, strict=True):
        for t in group:
            message = _verdict(t, answer)
            if message is not None:
                problems.append(Problem(t, message))
    return problems


async def _models(session: Any, base_url: str, key: str | None, timeout: float
                  ) -> tuple[str, Any]:
    """(kind, detail): ("models", [ids] or None), ("status", (code, text)),
    ("unreachable", why) or ("timeout", seconds)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with session.get(base_url.rstrip("/") + "/models", headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            if resp.status != 200:
                return "status", (resp.status, raw[:300].decode("utf-8", "replace"))
    except TimeoutError:
        return "timeout", timeout
    except aiohttp.ClientConnectorError as exc:
        refused = getattr(exc.os_error, "errno", None) == errno.ECONNREFUSED
        return "unreachable", "connection refused" if refused else (
            f"cannot connect ({getattr(exc.os_error, 'strerror', None) or exc})")
    except aiohttp.ClientError as exc:
        return "unreachable", f"connection error ({exc or type(exc).__name__})"
    try:
        data = json.loads(raw)
        return "models", sorted(str(m["id"]) for m in data["data"])
    except (ValueError, KeyError, TypeError):
        return "models", None  # an answer, but not a list we can read: let it through


def _verdict(t: Target, answer: tuple[str, Any]) -> str | None:
    kind, detail = answer
    who = "{who}"  # filled in by check(): the roles that share this problem
    if kind == "unreachable":
        return f"cannot reach {t.shown} {who}: {detail}; is the server running?"
    if kind == "timeout":
        return f"no answer from {t.shown}/models within {detail:g}s {who}"
    if kind == "status":
        status, _ = detail
        if status in (401, 403):
            name = "Unauthorized" if status == 401 else "Forbidden"
            return f"{status} {name} from {t.shown} {who}: {t.key_hint}"
        return None  # no /models (404, 405 …) or a passing 5xx: the run will see
    if detail is not None and t.model not in detail:
        served = ", ".join(detail[:20]) + (", …" if len(detail) > 20 else "")
        return (f"model '{t.model}' is not served at {t.shown} {who}; it serves: "
                f"{served or 'nothing'}")
    return None


def needed_sources(comparer: Any) -> list[tuple[str, Any]]:
    """The (role, backend) pairs a comparison still needs requests from: a checkpoint with a
    generation not stored successfully; the judge when a checkpoint is needed or a judgment is
    missing."""
    from .store import cache

    samples = range(comparer.options.samples)
    jobs = [(p, s) for p in comparer.prompts for s in samples]
    sides = (("baseline", comparer.baseline), ("candidate", comparer.candidate))
    keys = {role: [b.key(p, s) for p, s in jobs] for role, b in sides}
    rows = cache.generation_texts(comparer.engine, [k for ks in keys.values() for k in ks])
    ok = {k for k, r in rows.items() if r.get("response") is not None}
    out = [(role, b) for role, b in sides if any(k not in ok for k in keys[role])]
    judge = comparer.judge
    if out:
        return [*out, ("judge", judge)]
    if getattr(judge, "client", None) is None:
        return out
    wanted = []
    for (p, s), kb, kc in zip(jobs, keys["baseline"], keys["candidate"], strict=True):
        base, cand = rows[kb], rows[kc]
        for cf in comparer._orders(p, cand, base, s):
            first, second = (cand, base) if cf else (base, cand)
            wanted.append(judge.key(p, first["response"], second["response"]))
    have = cache.judgment_verdicts(comparer.engine, judge.spec_hash,
                                   list({p.prompt_hash for p, _ in jobs}))
    if any(have.get(k, {}).get("verdict") is None for k in wanted):
        return [("judge", judge)]
    return []
