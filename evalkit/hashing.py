"""Content hashes: the keys that make every step idempotent."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(obj: Any, length: int = 32) -> str:
    """A stable hex digest of any JSON-serialisable value (sha256, truncated)."""
    if not isinstance(obj, str):
        obj = canonical_json(obj)
    return hashlib.sha256(obj.encode("utf-8")).hexdigest()[:length]
