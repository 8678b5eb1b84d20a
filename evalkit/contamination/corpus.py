"""Corpus readers: plain text, JSONL (a named text field), Parquet (a named column), each
plain, gzip or zstd compressed, and ``datasets`` datasets saved to disk. All of them stream:
memory stays bounded by the chunk size whatever the corpus size.

A corpus is read as one stream of text: records are joined by a newline, files follow each
other in the order given (so an n-gram may span two records or two shards, as it does in a
pretraining stream). Chunks handed to the engine end on a newline, so no token is ever cut.

Bad input (a missing file, a truncated gzip or zstd stream, a line that is not JSON, a
missing or non-text field) is a one-line ``InputError`` naming the file, line and field; with
``on_error = "skip"`` it is recorded as a ``Problem`` instead, the record (or the rest of the
damaged file) is skipped, and the scan lists every problem.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConfigError, InputError

FORMATS = ("text", "jsonl", "parquet", "hf")
CHUNK = 1 << 20  # bytes of text per chunk handed to the engine
_ZSTD = (".zst", ".zstd")


@dataclass(frozen=True)
class CorpusSpec:
    """Which files make the corpus and how to read them."""

    paths: tuple[str, ...]
    fmt: str | None = None  # None: from each file's name
    field: str = "text"  # JSONL field, Parquet column, dataset column
    split: str | None = None  # a DatasetDict's split
    on_error: str = "fail"  # "fail" | "skip"

    def __post_init__(self) -> None:
        if not self.paths:
            raise ConfigError("no corpus given; pass --corpus PATH (repeatable)")
        if self.fmt is not None and self.fmt not in FORMATS:
            raise ConfigError(f"corpus format '{self.fmt}': expected one of "
                              f"{', '.join(FORMATS)}")
        if self.on_error not in ("fail", "skip"):
            raise ConfigError(f"on_error '{self.on_error}': expected fail or skip")


@dataclass(frozen=True)
class Problem:
    """Bad input that was skipped (``on_error = "skip"``)."""

    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        return str(InputError(self.message, path=self.path, line=self.line, field=self.field))


@dataclass(frozen=True)
class Piece:
    """A unit of reading: a file, a byte range of a plain text file, or rows of a dataset."""

    path: str
    fmt: str
    compression: str | None
    start: int = 0
    end: int | None = None  # bytes (text) or rows (hf); None: to the end


class Problems:
    """Raise bad input, or collect it (``skip``)."""

    def __init__(self, on_error: str) -> None:
        self.on_error = on_error
        self.items: list[Problem] = []

    def report(self, path: str, message: str, line: int | None = None,
               field: str | None = None) -> None:
        if self.on_error == "fail":
            raise InputError(message, path=path, line=line, field=field)
        self.items.append(Problem(path, line, field, message))


def detect(path: str, fmt: str | None) -> tuple[str, str | None]:
    """(format, compression) of a corpus file from its name (``fmt`` overrides the format)."""
    p = Path(path)
    name = p.name.lower()
    compression = "gzip" if name.endswith(".gz") else "zstd" if name.endswith(_ZSTD) else None
    if compression:
        name = name.rsplit(".", 1)[0]
    if fmt:
        return fmt, compression
    if p.is_dir():
        return "hf", None
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl", compression
    if name.endswith(".parquet"):
        return "parquet", compression
    return "text", compression


def plan(spec: CorpusSpec, problems: Problems, piece_bytes: int | None = None
         ) -> list[Piece]:
    """The pieces of the corpus in stream order. ``piece_bytes`` splits plain text files
    into byte ranges (aligned to lines when read) and datasets into row ranges, so that
    several workers can share a file."""
    pieces: list[Piece] = []
    for path in spec.paths:
        if not os.path.exists(path):
            problems.report(path, "no such file or folder")
            continue
        fmt, comp = detect(path, spec.fmt)
        if fmt == "hf":
            try:
                rows = _hf_dataset(path, spec).num_rows
            except InputError as exc:
                problems.report(path, exc.message, field=exc.field)
                continue
            step = max(1, (piece_bytes or 0) // 512) if piece_bytes else rows or 1
            pieces += [Piece(path, fmt, None, a, min(rows, a + step))
                       for a in range(0, max(rows, 1), step)]
            continue
        if os.path.isdir(path):
            problems.report(path, "is a folder, not a saved dataset or a file")
            continue
        size = os.path.getsize(path)
        if fmt == "text" and comp is None and piece_bytes and size > piece_bytes:
            pieces += [Piece(path, fmt, None, a, min(size, a + piece_bytes))
                       for a in range(0, size, piece_bytes)]
        else:
            pieces.append(Piece(path, fmt, comp))
    return pieces


def read(piece: Piece, spec: CorpusSpec, problems: Problems, chunk: int = CHUNK
         ) -> Iterator[bytes]:
    """The text of a piece as UTF-8 chunks that end on a newline (the last may not)."""
    if piece.fmt == "text":
        yield from _lines_cut(_bytes(piece, problems, chunk), chunk)
    elif piece.fmt == "jsonl":
        yield from _joined(_jsonl_texts(piece, spec, problems, chunk), chunk)
    elif piece.fmt == "parquet":
        yield from _joined(_parquet_texts(piece, spec, problems), chunk)
    else:
        yield from _joined(_hf_texts(piece, spec), chunk)


# ---- raw bytes (decompressed) ---------------------------------------------------------------

def _bytes(piece: Piece, problems: Problems, chunk: int) -> Iterator[bytes]:
    path = piece.path
    try:
        fh = open(path, "rb")
    except OSError as exc:
        problems.report(path, f"cannot read: {exc.strerror or exc}")
        return
    with fh:
        if piece.compression == "gzip":
            yield from _gzip_blocks(fh, path, problems, chunk)
        elif piece.compression == "zstd":
            yield from _zstd_blocks(fh, path, problems, chunk)
        else:
            yield from _range_blocks(fh, piece, chunk)


def _range_blocks(fh: BinaryIO, piece: Piece, chunk: int) -> Iterator[bytes]:
    """A byte range, moved to line starts: a piece holds the lines that start inside it."""
    start, end = _align(fh, piece.start), None
    if piece.end is not None:
        end = _align(fh, piece.end)
    fh.seek(start)
    left = None if end is None else end - start
    while left is None or left > 0:
        block = fh.read(chunk if left is None else min(chunk, left))
        if not block:
            return
        if left is not None:
            left -= len(block)
        yield block


def _align(fh: BinaryIO, pos: int) -> int:
    if pos <= 0:
        return 0
    fh.seek(pos - 1)
    return pos - 1 + len(fh.readline())


def _gzip_blocks(fh: BinaryIO, path: str, problems: Problems, chunk: int) -> Iterator[bytes]:
    import gzip

    done = 0
    with gzip.GzipFile(fileobj=fh) as gz:  # every member, in order
        while True:
            try:
                block = gz.read(chunk)
            except EOFError:
                problems.report(path, "truncated gzip file (it ends inside a compressed "
                                f"stream, after {done:,} bytes of text)")
                return
            except (OSError, zlib.error) as exc:
                problems.report(path, f"not valid gzip data after {done:,} bytes of text "
                                f"({exc})")
                return
            if not block:
                return
            done += len(block)
            yield block


def _zstd_blocks(fh: BinaryIO, path: str, problems: Problems, chunk: int) -> Iterator[bytes]:
    try:
        import zstandard
    except ImportError:
        raise ConfigError(f"{path}: reading zstd needs the 'zstandard' package "
                          "(pip install 'evalkit[dask]' or pip install zstandard)") from None
    dctx = zstandard.ZstdDecompressor()
    obj, fed, done = dctx.decompressobj(), False, 0
    while True:
        raw = fh.read(1 << 16)  # small reads bound the output of one call
        if not raw:
            break
        while raw:
            fed = True
            try:
                out = obj.decompress(raw)
            except zstandard.ZstdError as exc:
                problems.report(path, f"not valid zstd data after {done:,} bytes of text "
                                f"({exc})")
                return
            if out:
                done += len(out)
                yield out
            if obj.eof:  # the next frame, if any
                raw, obj, fed = obj.unused_data, dctx.decompressobj(), False
            else:
                raw = b""
    if fed:
        problems.report(path, f"truncated zstd file (it ends inside a frame, after {done:,} "
                        "bytes of text)")


def _lines_cut(blocks: Iterator[bytes], chunk: int) -> Iterator[bytes]:
    """Re-cut blocks into chunks that end on a newline."""
    rest = b""
    for block in blocks:
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) >= 4 * chunk:  # a very long line: cut at a space
            cut = max(data.rfind(b" "), data.rfind(b"\t")) + 1 or _char_boundary(data)
        if cut == 0:
            rest = data  # wait for the line's end
            continue
        rest = data[cut:]
        yield data[:cut]
    if rest:
        yield rest


def _char_boundary(data: bytes) -> int:
    """The last UTF-8 character boundary (text with no space at all, such as CJK)."""
    cut = len(data) - 1  # before the last character's first byte (it may be incomplete)
    while cut > 0 and 0x80 <= data[cut] < 0xC0:
        cut -= 1
    return cut


# ---- records --------------------------------------------------------------------------------

def _joined(texts: Iterator[str], chunk: int) -> Iterator[bytes]:
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text) + 1
        if size >= chunk:
            yield ("\n".join(batch) + "\n").encode("utf-8", "surrogatepass")
            batch, size = [], 0
    if batch:
        yield ("\n".join(batch) + "\n").encode("utf-8", "surrogatepass")


def _jsonl_texts(piece: Piece, spec: CorpusSpec, problems: Problems, chunk: int
                 ) -> Iterator[str]:
    line_no = 0
    rest = b""
    for block in _bytes(piece, problems, chunk):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        for raw in lines:
            line_no += 1
            yield from _record(raw, piece.path, line_no, spec.field, problems)
    if rest:
        yield from _record(rest, piece.path, line_no + 1, spec.field, problems)


def _record(raw: bytes, path: str, line: int, field: str, problems: Problems
            ) -> Iterator[str]:
    if not raw.strip():
        return
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError:
        problems.report(path, "not UTF-8 text", line)
        return
    except json.JSONDecodeError as exc:
        problems.report(path, f"not JSON ({exc.msg} at column {exc.colno})", line)
        return
    if not isinstance(obj, dict):
        problems.report(path, f"expected a JSON object, got {type(obj).__name__}", line)
        return
    if field not in obj:
        keys = ", ".join(list(obj)[:8])
        problems.report(path, f"missing (the record has: {keys or 'no fields'}; choose "
                        "one with --field)", line, field)
        return
    value = obj[field]
    if value is None:
        return
    if not isinstance(value, str):
        problems.report(path, f"expected text, got {type(value).__name__}", line, field)
        return
    yield value


def _parquet_texts(piece: Piece, spec: CorpusSpec, problems: Problems) -> Iterator[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if piece.compression:
        problems.report(piece.path, "compressed Parquet files are not read; Parquet "
                        "compresses its own pages")
        return
    try:
        pf = pq.ParquetFile(piece.path)
    except (pa.ArrowException, OSError) as exc:
        problems.report(piece.path, f"not a Parquet file ({str(exc).splitlines()[0]})")
        return
    names = pf.schema_arrow.names
    if spec.field not in names:
        problems.report(piece.path, f"no such column (columns: {', '.join(names[:10])}; "
                        "choose one with --field)", field=spec.field)
        return
    kind = pf.schema_arrow.field(spec.field).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        problems.report(piece.path, f"expected a text column, got {kind}", field=spec.field)
        return
    try:
        for batch in pf.iter_batches(batch_size=4096, columns=[spec.field]):
            yield from (t for t in batch.column(0).to_pylist() if t is not None)
    except (pa.ArrowException, OSError) as exc:
        problems.report(piece.path, f"damaged Parquet data ({str(exc).splitlines()[0]})")


def _hf_dataset(path: str, spec: CorpusSpec) -> Any:
    import datasets

    try:
        ds = datasets.load_from_disk(path)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InputError(f"not a dataset saved with save_to_disk ({str(exc).splitlines()[0]})",
                         path=path) from None
    if isinstance(ds, datasets.DatasetDict):
        splits = list(ds)
        name = spec.split or ("train" if "train" in ds else None)
        if name is None and len(splits) == 1:
            name = splits[0]
        if name not in ds:
            raise InputError(f"choose a split with --split (splits: {', '.join(splits)})",
                             path=path)
        ds = ds[name]
    if spec.field not in ds.column_names:
        raise InputError(f"no such column (columns: {', '.join(ds.column_names[:10])}; "
                         "choose one with --field)", path=path, field=spec.field)
    return ds


def _hf_texts(piece: Piece, spec: CorpusSpec) -> Iterator[str]:
    ds = _hf_dataset(piece.path, spec).select_columns([spec.field])
    end = ds.num_rows if piece.end is None else piece.end
    if piece.start or end != ds.num_rows:
        ds = ds.select(range(piece.start, end))
    for batch in ds.with_format("arrow").iter(batch_size=4096):
        col = batch.column(0)
        for value in col.to_pylist():
            if value is None:
                continue
            if not isinstance(value, str):
                raise InputError(f"expected text, got {type(value).__name__}",
                                 path=piece.path, field=spec.field)
            yield value
