"""The scan scaled out on Dask: the corpus is cut into pieces (files; byte ranges of large
plain text files, moved to line starts; row ranges of saved datasets), each piece is scanned
by a worker, and the pieces' counts are merged in stream order together with the n-grams
that span two pieces (``engine.merge``), so the result equals the one-process scan exactly.

Dask is optional: ``pip install 'evalkit[dask]'``. A ``LocalCluster`` is started on
127.0.0.1 for the scan (``workers``), or an existing scheduler is used (``scheduler``).
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConfigError
from . import corpus as cr
from .engine import Counts, Patterns, Scanner, merge


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("scanning on Dask needs dask[distributed]: pip install "
                          "'evalkit[dask]' (or run without --workers)") from None
    return distributed


def local_cluster(workers: int) -> Any:
    """A LocalCluster of ``workers`` single-threaded processes on 127.0.0.1. Dask's nannies
    set ``MALLOC_TRIM_THRESHOLD_=65536``, which hands memory back to the kernel after every
    chunk and makes the next chunk's arrays page-fault in again (twice the CPU per chunk,
    measured); the scan's workers keep their heap instead (bounded: a few chunk-sized
    arrays)."""
    import dask

    distributed = _distributed()
    env = "distributed.nanny.pre-spawn-environ."
    with dask.config.set({env + "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
                          env + "MALLOC_MMAP_THRESHOLD_": str(1 << 25)}):
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR)


def scan_piece(piece: cr.Piece, spec: cr.CorpusSpec, patterns: Patterns, chunk: int
               ) -> tuple[Counts, list[cr.Problem]]:
    """One piece, on a worker: its counts, head and tail."""
    problems = cr.Problems(spec.on_error)
    scanner = Scanner(patterns)
    for block in cr.read(piece, spec, problems, chunk):
        scanner.feed(block)
    return scanner.result(), problems.items


def scan_dask(spec: cr.CorpusSpec, patterns: Patterns, options: Any
              ) -> tuple[Counts, list[cr.Problem]]:
    """Scan on Dask; ``options`` is a ``ScanOptions`` (workers, scheduler, sizes)."""
    distributed = _distributed()
    problems = cr.Problems(spec.on_error)
    pieces = cr.plan(spec, problems, options.piece_bytes)
    if options.scheduler:
        client = distributed.Client(options.scheduler)
        cluster = None
    else:
        cluster = local_cluster(options.workers)
        client = distributed.Client(cluster)
    try:
        shared = client.scatter(patterns, broadcast=True)
        futures = [client.submit(scan_piece, piece, spec, shared, options.chunk, pure=False)
                   for piece in pieces]
        results = client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    found = [p for _, probs in results for p in probs]
    return merge(patterns, [c for c, _ in results]), problems.items + found
