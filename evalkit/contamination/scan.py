"""A contamination scan end to end: identify the corpus by content, find a stored result or
scan (one process, or Dask), score and label the items, store everything.

A rescan of the same corpus (same file contents, read the same way) and the same items with
the same method is served from the store; with other label thresholds only the labels are
recomputed from the stored fractions — the corpus is not read again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..hashing import content_hash
from ..store import contamination_queries as cq
from . import corpus as cr
from .engine import NORMALISER, Counts, Patterns, Scanner, index_items
from .items import ItemSet
from .matches import LABELS, Thresholds, score_items

METHOD = "ngram-coverage"


@dataclass(frozen=True)
class ScanOptions:
    n: int = 8  # coverage n-grams (Llama 3: 8)
    hit_n: int | None = 13  # the any-hit test (GPT-3: 13); None: off
    thresholds: Thresholds = field(default_factory=Thresholds)
    workers: int = 0  # 0: this process; N: a Dask LocalCluster of N workers
    scheduler: str | None = None  # or an existing Dask scheduler's address
    chunk: int = cr.CHUNK
    piece_bytes: int = 64 << 20  # Dask: plain text files are split into pieces this size
    refresh: bool = False  # scan again even when a stored result exists

    def __post_init__(self) -> None:
        if not 2 <= self.n <= 64:
            raise ConfigError(f"--n: must be between 2 and 64, got {self.n}")
        if self.hit_n is not None and not self.n <= self.hit_n <= 64:
            raise ConfigError(f"--hit-n: must be between --n ({self.n}) and 64, got "
                              f"{self.hit_n}")
        if self.workers < 0:
            raise ConfigError(f"--workers: must be at least 0, got {self.workers}")

    @property
    def ns(self) -> tuple[int, ...]:
        return tuple(sorted({self.n} | ({self.hit_n} if self.hit_n else set())))


@dataclass(frozen=True)
class CorpusIdentity:
    id: str
    name: str
    fmt: str
    field: str
    split: str | None
    files: tuple[dict[str, Any], ...]  # {"path", "size", "hash"}
    size: int
    content_hash: str

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "fmt": self.fmt, "field": self.field,
                "split": self.split, "files_json": json.dumps(list(self.files)),
                "size": self.size, "content_hash": self.content_hash}


@dataclass(frozen=True)
class ScanResult:
    scan: dict[str, Any]
    items: list[dict[str, Any]]
    corpus: CorpusIdentity
    served_from: str  # "scan" | "store" | "store (relabelled)"


def _hasher() -> Any:
    try:
        import xxhash

        return xxhash.xxh3_128, "xxh3_128"
    except ImportError:  # pragma: no cover - datasets brings xxhash
        import hashlib

        return hashlib.blake2b, "blake2b"


def _file_hash(path: Path, make: Callable[[], Any]) -> tuple[int, str]:
    h, size = make(), 0
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(8 << 20):
                h.update(block)
                size += len(block)
    return size, h.hexdigest()


def identify(spec: cr.CorpusSpec, name: str | None, problems: cr.Problems) -> CorpusIdentity:
    """The corpus by content: every file hashed (xxh3-128, several GB/s)."""
    make, algo = _hasher()
    files, kinds = [], set()
    for raw in spec.paths:
        path = Path(raw).expanduser()
        if not path.exists():
            problems.report(raw, "no such file or folder")
            continue
        try:
            size, digest = _file_hash(path, make)
        except OSError as exc:
            problems.report(raw, f"cannot read: {exc.strerror or exc}")
            continue
        kinds.add(cr.detect(str(path), spec.fmt)[0])
        files.append({"path": str(path.resolve()), "size": size, "hash": f"{algo}:{digest}"})
    if not files:
        raise ConfigError("no corpus file could be read" + (
            f" ({problems.items[0]})" if problems.items else ""))
    fmt = kinds.pop() if len(kinds) == 1 else "mixed"
    read_as = {"fmt": fmt, "field": spec.field if fmt != "text" else None,
               "split": spec.split if fmt == "hf" else None}
    cid = content_hash({**read_as, "files": [f["hash"] for f in files]}, 24)
    total = content_hash([f["hash"] for f in files], 32)
    return CorpusIdentity(cid, name or Path(spec.paths[0]).name.split(".")[0], fmt,
                          spec.field if fmt != "text" else "", read_as["split"],
                          tuple(files), sum(f["size"] for f in files), total)


def scan_local(spec: cr.CorpusSpec, patterns: Patterns, chunk: int = cr.CHUNK
               ) -> tuple[Counts, list[cr.Problem]]:
    """One process: the corpus as one stream, chunk by chunk."""
    problems = cr.Problems(spec.on_error)
    scanner = Scanner(patterns)
    for piece in cr.plan(spec, problems):
        for block in cr.read(piece, spec, problems, chunk):
            scanner.feed(block)
    return scanner.result(), problems.items


def run_scan(engine: Engine, spec: cr.CorpusSpec, items: ItemSet,
             options: ScanOptions = ScanOptions(), name: str | None = None) -> ScanResult:
    """Scan (or find) ``items`` against the corpus ``spec``; store and return the result."""
    if not items.items:
        raise ConfigError(f"{items.kind} '{items.name}' has no items to scan")
    started = time.perf_counter()
    problems = cr.Problems(spec.on_error)
    ident = identify(spec, name, problems)
    spec = _existing_only(spec, ident)
    th = options.thresholds
    same = {"corpus": ident.id, "items": items.hash, "method": METHOD, "n": options.n,
            "hit_n": options.hit_n, "normaliser": NORMALISER}
    scan_id = content_hash({**same, "clean_below": th.clean_below,
                            "dirty_from": th.dirty_from}, 24)
    cq.save_corpus(engine, ident.row())
    if not options.refresh:
        stored = cq.get_scan(engine, scan_id)
        if stored is not None:
            return ScanResult(stored, cq.scan_items(engine, scan_id), ident, "store")
        earlier = cq.same_matches(engine, ident.id, items.hash, METHOD, options.n,
                                  options.hit_n, NORMALISER)
        if earlier is not None:
            return _relabel(engine, earlier, scan_id, th, ident)
    texts = [it.text for it in items.items]
    index = index_items(texts, options.ns)
    if options.workers or options.scheduler:
        from .dask_runner import scan_dask

        counts, found = scan_dask(spec, index.patterns, options)
    else:
        counts, found = scan_local(spec, index.patterns, options.chunk)
    matches = score_items(index, counts, texts, options.n, options.hit_n, th)
    rows = [_item_row(it, m) for it, m in zip(items.items, matches, strict=True)]
    labels = {lab: sum(r["label"] == lab for r in rows) for lab in LABELS}
    runner = "local" if not (options.workers or options.scheduler) else (
        f"dask:{options.workers or 'scheduler'}")
    scan = {"id": scan_id, "corpus_id": ident.id, "source_kind": items.kind,
            "source": items.name, "source_version": items.version, "items_hash": items.hash,
            "method": METHOD, "n": options.n, "hit_n": options.hit_n, "normaliser": NORMALISER,
            "clean_below": th.clean_below, "dirty_from": th.dirty_from, "n_items": len(rows),
            "labels_json": json.dumps(labels), "corpus_tokens": counts.tokens,
            "corpus_bytes": counts.bytes,
            "problems_json": json.dumps([str(p) for p in problems.items + found]),
            "runner": runner, "duration_s": round(time.perf_counter() - started, 3)}
    if options.refresh and cq.get_scan(engine, scan_id) is not None:
        scan["id"] = scan_id = content_hash({**scan, "at": time.time()}, 24)
    cq.save_scan(engine, scan, rows)
    return ScanResult(cq.get_scan(engine, scan_id) or scan, cq.scan_items(engine, scan_id),
                      ident, "scan")


def _existing_only(spec: cr.CorpusSpec, ident: CorpusIdentity) -> cr.CorpusSpec:
    """Files already reported missing (``skip``) are left out of the reading too."""
    from dataclasses import replace

    kept = {f["path"] for f in ident.files}
    return replace(spec, paths=tuple(p for p in spec.paths
                                     if str(Path(p).expanduser().resolve()) in kept))


def _item_row(item: Any, m: Any) -> dict[str, Any]:
    return {"position": m.index, "item_id": item.id, "item_hash": item.hash, "task": item.task,
            "tags_json": json.dumps(item.tags, sort_keys=True), "n_tokens": m.n_tokens,
            "covered": m.covered, "fraction": m.fraction, "longest": m.longest, "hit": m.hit,
            "max_count": m.max_count, "label": m.label,
            "spans_json": json.dumps([list(s) for s in m.spans]),
            "text": item.text if m.spans else None}


def _relabel(engine: Engine, earlier: dict[str, Any], scan_id: str, th: Thresholds,
             ident: CorpusIdentity) -> ScanResult:
    rows = cq.scan_items(engine, earlier["id"])
    for r in rows:
        r.pop("scan_id", None)
        r["label"] = th.label(r["fraction"])
    labels = {lab: sum(r["label"] == lab for r in rows) for lab in LABELS}
    scan = {**earlier, "id": scan_id, "clean_below": th.clean_below,
            "dirty_from": th.dirty_from, "labels_json": json.dumps(labels)}
    scan.pop("created_at", None)
    cq.save_scan(engine, scan, rows)
    return ScanResult(cq.get_scan(engine, scan_id) or scan, rows, ident,
                      "store (relabelled)")

