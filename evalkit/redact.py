"""Keep secrets out of everything evalkit prints or stores.

- ``mask_url``: a URL with its password (and any token in the user-info part) replaced by
  ``***`` — store URLs (``postgresql://user:PASSWORD@host/db``) and base URLs with
  credentials (``https://user:token@host/v1``) are shown this way wherever they are printed.
- ``strip_credentials``: a base URL without its user-info part, and the credentials apart (sent
  as an ``Authorization`` header instead, never kept in a spec or a row).
- ``url_token``: the same split, giving the one token the credentials stand for (the password,
  or a user-only part) — what ``base_url = "https://user:TOKEN@host/v1"`` sends as the Bearer
  key; ``mask_userinfo`` shows such a base URL with its whole user-info part masked.
- ``redact``: any known secret value (API keys read from the environment) replaced by ``***``
  in a message, so an endpoint that echoes the key back cannot leak it into the store or logs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^/@:\s]*)"
                       r"(?::(?P<password>[^/@\s]*))?@")
_ANY_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]*@")


def mask_url(url: str) -> str:
    """``scheme://user:***@host...``; a URL without a password is returned as it is."""
    def sub(m: re.Match[str]) -> str:
        if m.group("password") is None:
            return m.group(0) if m.group("user") == "" else f"{m.group('scheme')}{m.group('user')}@"
        return f"{m.group('scheme')}{m.group('user')}:{MASK}@"

    return _USERINFO.sub(sub, str(url))


def mask_userinfo(url: str) -> str:
    """``scheme://***@host...``: the whole user-info part masked — for base URLs, where a
    user-only part (``https://TOKEN@host/v1``) is itself a token."""
    return _ANY_USERINFO.sub(r"\g<scheme>" + MASK + "@", str(url))


def mask_urls_in(text: str) -> str:
    """Every URL with a password inside ``text`` masked (error messages quote URLs)."""
    return mask_url(text)


def strip_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without user-info, (user, password) or None)``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, (parts.username or "", parts.password or "")


def url_token(url: str) -> tuple[str, str | None]:
    """``(url without user-info, the token it carried or None)``: the password, or the user
    part when there is no password (``https://TOKEN@host/v1``), percent-decoded. The token is
    meant for an ``Authorization: Bearer`` header."""
    clean, creds = strip_credentials(url)
    if creds is None:
        return url, None
    user, password = creds
    return clean, unquote(password or user) or None


def redact(text: str | None, secrets: Iterable[str | None]) -> str | None:
    """``text`` with every secret (at least 4 characters long) replaced by ``***`` and URL
    passwords masked."""
    if text is None:
        return None
    out = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return mask_url(out)
