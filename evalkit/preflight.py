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

A compare checks lazily (``Preflight``): the check of an endpoint runs when its first request
is about to be sent — a checkpoint's also checks the judge, which will be needed next — and no
request goes out until every check started so far has passed. So a rerun whose answers are all
stored asks nothing (the server may be gone), and a fresh run's first request waits one
``GET /models`` round trip, while the stored results are still loading.
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
    """Run the preflight of every source now (the commands that check before they start);
    raise ``PreflightError`` naming every problem, on one line."""
    preflight = Preflight(sources)
    if preflight.targets:
        asyncio.run(preflight.ensure_all())


def failed(problems: Sequence[Problem], wanted: Sequence[Target]) -> PreflightError:
    """The one-line error naming every problem: one message per cause, with everyone it hits."""
    whos: dict[str, list[str]] = {}
    for p in problems:
        whos.setdefault(p.message, []).append(f"{p.target.role} {p.target.name}")
    text = "; ".join(m.replace("{who}", f"({', '.join(w)})") for m, w in whos.items())
    secrets = {t.api_key for t in wanted}
    return PreflightError(f"preflight: {redact(text, secrets)} (--no-preflight skips this "
                          "check)")


class Preflight:
    """The preflight of a compare, run lazily from the request path (module docstring).

    ``install()`` gives each request-sending source's chat client a ``gate``: the client awaits
    it before it opens its connection pool, i.e. before its first request, and never again.
    ``ensure(role)`` starts the checks of ``role`` (and of the judge, for a checkpoint) unless
    they are running, waits for every check started so far, and raises the one-line
    ``PreflightError`` naming every problem found; ``ensure_all()`` does so for every source
    at once (``check``, for the commands that check before they start). Each distinct
    (base URL, key) is asked once.
    """

    def __init__(self, sources: Sequence[tuple[str, Any]], early: Any = None) -> None:
        self.early = early  # a reachability.Reachability started by the CLI, or None
        self.sources = [(role, s) for role, s in sources
                        if getattr(s, "client", None) is not None]
        self.targets = targets(self.sources)
        self._checks: dict[str, asyncio.Future[list[Problem]]] = {}  # role -> its problems
        self._answers: dict[tuple[str, str | None], asyncio.Future[tuple[str, Any]]] = {}

    def install(self) -> None:
        from functools import partial

        for role, source in self.sources:
            if hasattr(source.client, "gate"):
                source.client.gate = partial(self.ensure, role)

    async def ensure(self, role: str) -> None:
        await self._ensure([role] if role == "judge" else [role, "judge"])

    async def ensure_all(self) -> None:
        """Check every source now."""
        await self._ensure(self._roles())

    def _roles(self) -> list[str]:
        return list(dict.fromkeys(role for role, _ in self.sources))

    async def _ensure(self, roles: list[str]) -> None:
        for r in roles:
            if r not in self._checks and any(t.role == r for t in self.targets):
                self._checks[r] = asyncio.ensure_future(self._check(r))
        await asyncio.gather(*self._checks.values())
        problems = [p for r in self._roles() if r in self._checks
                    for p in self._checks[r].result()]
        if problems:
            raise failed(problems, self.targets)

    async def _check(self, role: str) -> list[Problem]:
        mine = [t for t in self.targets if t.role == role]
        answers = await asyncio.gather(*(self._answer(t) for t in mine))
        return [Problem(t, m) for t, a in zip(mine, answers, strict=True)
                if (m := _verdict(t, a)) is not None]

    async def _answer(self, target: Target) -> tuple[str, Any]:
        url = (target.base_url, target.api_key)
        if url not in self._answers:
            timeout = min(t.timeout for t in self.targets
                          if (t.base_url, t.api_key) == url)
            self._answers[url] = asyncio.ensure_future(self._ask(*url, timeout))
        return await asyncio.shield(self._answers[url])

    async def _ask(self, base_url: str, key: str | None, timeout: float) -> tuple[str, Any]:
        if self.early is not None and await self.early.refused(base_url):
            from .reachability import REFUSED

            return "unreachable", REFUSED  # known before the store loaded: no HTTP client
        import aiohttp

        async with aiohttp.ClientSession() as session:
            return await _models(session, base_url, key, timeout)


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


def configured_endpoints(config: Any, checkpoints: Sequence[str], judge: str | None
                         ) -> list[tuple[str, Any]]:
    """(owner, ``EndpointConfig``) of every configured OpenAI endpoint a compare of
    ``checkpoints`` with ``judge`` may send to, in the order the run would open them
    (baseline, candidate, judge; a panel's members). Names not configured here (imported
    checkpoints and judges, reward models) are left to their own resolution."""
    out = []
    for name in checkpoints:
        ck = config.checkpoints.get(name)
        if ck is not None and ck.backend == "openai":
            out.append((f"checkpoint '{name}'", ck.endpoint))
    wanted: str | None = judge or getattr(getattr(config, "defaults", None), "judge",
                                          None) or (
        next(iter(config.judges)) if len(config.judges) == 1 else None)
    todo: list[str | None] = [wanted]
    seen: set[str] = set()
    while todo:
        member = todo.pop(0)
        cfg = config.judges.get(member) if member is not None else None
        if cfg is None or member is None or member in seen:
            continue
        seen.add(member)
        if cfg.backend == "panel":
            todo.extend(cfg.panel)
        elif cfg.backend == "openai":
            out.append((f"judge '{member}'", cfg.endpoint))
    return out


def check_keys(config: Any, checkpoints: Sequence[str], judge: str | None) -> None:
    """Read the API key of every configured endpoint a compare may send to, before anything
    heavy loads: an unset variable is the one-line ``ConfigError`` the chat clients would
    raise later, in the order they would raise it."""
    for owner, endpoint in configured_endpoints(config, checkpoints, judge):
        endpoint.api_key(owner)
