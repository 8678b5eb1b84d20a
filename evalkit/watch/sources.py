"""Where new checkpoints appear: an OpenAI-compatible server's ``GET /v1/models`` (vLLM,
SGLang and TGI list what they serve) or a folder of checkpoint directories or replay files.

A poll returns what is there *and complete*; a folder entry still being written is reported as
waiting and taken on a later poll. Polls never raise for a source that cannot be read: they
return its problem as one line (``Poll.problem``), so one broken source never stops the others.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..redact import mask_userinfo
from .config import SourceConfig

# names a writer uses while a file is not finished yet (renamed when done)
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".incomplete", "~")
META_SUFFIX = ".meta.json"  # {"parent": "NAME"} beside a folder entry: its chain parent


@dataclass(frozen=True)
class Discovered:
    """One checkpoint a source lists: its id there, the file or folder (folder sources), and
    the parent the source names (a model's ``parent`` in /v1/models, or a sidecar file)."""

    source: str
    id: str
    path: str | None = None
    parent: str | None = None


@dataclass(frozen=True)
class Poll:
    source: str
    found: tuple[Discovered, ...] = ()
    waiting: tuple[str, ...] = ()  # entries seen but not complete yet: "NAME (why)"
    problem: str | None = None  # the source could not be read this time


def wanted(source: SourceConfig, ident: str) -> bool:
    """Include/exclude glob patterns on the id (no include list: everything)."""
    if source.include and not any(fnmatch.fnmatchcase(ident, p) for p in source.include):
        return False
    return not any(fnmatch.fnmatchcase(ident, p) for p in source.exclude)


class ModelsSource:
    """``GET {base_url}/models``; each listed id is a checkpoint."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    def poll(self, now: float | None = None) -> Poll:
        c = self.config
        shown = mask_userinfo(c.base_url)
        headers = {"Accept": "application/json"}
        if c.api_key_env:
            key = os.environ.get(c.api_key_env)
            if not key:
                return Poll(c.name, problem=f"source {c.name}: environment variable "
                            f"{c.api_key_env} is not set (api_key_env)")
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(c.base_url + "/models", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=c.timeout) as resp:
                data = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return Poll(c.name, problem=f"source {c.name}: HTTP {exc.code} from {shown}/models")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Poll(c.name, problem=f"source {c.name}: cannot reach {shown}/models "
                        f"({reason}); is the server running?")
        except ValueError:
            return Poll(c.name, problem=f"source {c.name}: {shown}/models did not answer JSON")
        try:
            entries = [(str(m["id"]), m.get("parent")) for m in data["data"]]
        except (KeyError, TypeError):
            return Poll(c.name, problem=f"source {c.name}: {shown}/models has no 'data' list "
                        "of models with an 'id'")
        found = tuple(Discovered(c.name, ident, None, str(parent) if parent else None)
                      for ident, parent in entries if wanted(c, ident))
        return Poll(c.name, found=found)


@dataclass
class _Seen:
    signature: tuple[int, int, int]  # files, bytes, newest mtime (ns)


@dataclass
class FolderSource:
    """Entries of a folder (files or checkpoint directories) matching ``pattern``; one is
    taken once complete: ``complete = "marker"`` when its marker file exists, ``"stable"``
    when nothing in it changed for ``stable_for`` seconds (and, for a ``.jsonl`` file, its
    last line is finished)."""

    config: SourceConfig
    seen: dict[str, _Seen] = field(default_factory=dict)

    def poll(self, now: float | None = None) -> Poll:
        c = self.config
        now = time.time() if now is None else now
        folder = Path(c.path)
        if not folder.is_dir():
            return Poll(c.name, problem=f"source {c.name}: folder {folder} does not exist")
        try:
            names = sorted(e.name for e in os.scandir(folder))
        except OSError as exc:
            return Poll(c.name, problem=f"source {c.name}: cannot list {folder}: "
                        f"{exc.strerror or exc}")
        markers = {self._marker(n) for n in names} if c.complete == "marker" else set()
        candidates = [n for n in names if self._entry(n, markers)]
        found, waiting = [], []
        for name in candidates:
            ident = entry_id(folder / name)
            if not wanted(c, ident):
                continue
            why = self._incomplete(folder / name, now)
            if why is not None:
                waiting.append(f"{ident} ({why})")
                continue
            try:
                written = (folder / name).stat().st_mtime_ns
            except OSError:
                continue  # gone since the listing
            found.append((written, name, Discovered(c.name, ident, str(folder / name),
                                                    _parent(folder, ident))))
        found.sort(key=lambda t: (t[0], t[1]))  # oldest first: the order they were written
        return Poll(c.name, found=tuple(d for _, _, d in found), waiting=tuple(waiting))

    def _entry(self, name: str, markers: set[str]) -> bool:
        if name.startswith(".") or name.endswith(TEMP_SUFFIXES) or name.endswith(META_SUFFIX):
            return False
        return name not in markers and fnmatch.fnmatchcase(name, self.config.pattern)

    def _marker(self, name: str) -> str:
        stem = entry_id(Path(name))
        return self.config.marker.replace("{name}", name).replace("{id}", stem)

    def _incomplete(self, path: Path, now: float) -> str | None:
        """Why ``path`` is not complete yet, or None."""
        c = self.config
        if c.complete == "marker":
            marker = Path(c.path) / self._marker(path.name)
            return None if marker.exists() else f"no marker {marker.name} yet"
        try:
            signature = _signature(path)
        except OSError as exc:
            return f"cannot read it: {exc.strerror or exc}"
        before = self.seen.get(path.name)
        self.seen[path.name] = _Seen(signature)
        files, size, newest = signature
        if files == 0 or size == 0:
            return "empty"
        if path.is_file() and path.suffix == ".jsonl" and not _ends_with_newline(path):
            return "its last line is not finished"
        age = now - newest / 1e9
        if age < c.stable_for:
            return f"changed {max(age, 0):.1f}s ago; taken after {c.stable_for:g}s unchanged"
        if before is not None and before.signature != signature:
            return "changed since the last poll"
        return None


def entry_id(path: Path) -> str:
    """A folder entry's id: a directory's name, or a file's name without its last suffix."""
    return path.name if path.is_dir() or not path.suffix else path.name[: -len(path.suffix)]


def _signature(path: Path) -> tuple[int, int, int]:
    if path.is_file():
        st = path.stat()
        return 1, st.st_size, st.st_mtime_ns
    files = size = newest = 0
    for root, _, names in os.walk(path):
        for name in names:
            st = os.stat(os.path.join(root, name))
            files, size, newest = files + 1, size + st.st_size, max(newest, st.st_mtime_ns)
    return files, size, max(newest, path.stat().st_mtime_ns)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _parent(folder: Path, ident: str) -> str | None:
    meta = folder / f"{ident}{META_SUFFIX}"
    if not meta.is_file():
        return None
    try:
        parent = json.loads(meta.read_text(encoding="utf-8")).get("parent")
    except (OSError, ValueError, AttributeError):
        return None
    return str(parent) if parent else None


def make_source(config: SourceConfig) -> Any:
    return ModelsSource(config) if config.kind == "models" else FolderSource(config)
