"""Normalisation: text to normalised UTF-8 in which every separator is a NUL byte.

Unicode NFKC, then ``casefold`` (context-free lower-casing: ``Σ`` is always ``σ``); a token is
a run of letters, digits and combining marks (``str.isalnum`` or category M); everything else
— punctuation, symbols, ``_``, whitespace — separates tokens, and each CJK ideograph or kana is
a token of its own. An ASCII chunk goes through one ``bytes.translate``; only lines holding
non-ASCII bytes take the Unicode path. Pure: no files, no store.
"""

from __future__ import annotations

import unicodedata

import numpy as np

NORMALISER = "nfkc-casefold-alnum-cjk/1"  # part of every scan's identity
_CJK = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
        (0xF900, 0xFAFF), (0x20000, 0x3134F))


def _byte_table() -> bytes:
    table = bytearray(256)  # separators -> 0
    for c in b"abcdefghijklmnopqrstuvwxyz0123456789":
        table[c] = c
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[c] = c + 32
    for c in range(0x80, 0x100):
        table[c] = c  # bytes of non-ASCII letters (separators were made spaces before)
    return bytes(table)


_TABLE = _byte_table()


_CLASS = np.zeros(0x110000, dtype=np.uint8)  # 0 separates tokens, 1 is in a token,
_KNOWN = np.zeros(0x110000, dtype=bool)  # 2 is a token by itself; filled as code points appear
_KNOWN[:0x80] = True
_CLASS[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)] = 1
_CLASS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)] = 1


def _classes(cps: np.ndarray) -> np.ndarray:
    """The class of each code point (looked up once per distinct code point per process)."""
    new = cps[~_KNOWN[cps]]
    if new.size:
        for cp in np.unique(new).tolist():
            ch = chr(cp)
            token = not 0xD800 <= cp < 0xE000 and (
                ch.isalnum() or unicodedata.category(ch)[0] == "M")
            single = any(lo <= cp <= hi for lo, hi in _CJK)
            _CLASS[cp] = (2 if single else 1) if token else 0
            _KNOWN[cp] = True
    return _CLASS[cps]


# ---- normalisation -------------------------------------------------------------------------

def normalise(text: str) -> bytes:
    """``text`` as normalised UTF-8 with every separator a NUL byte."""
    if text.isascii():
        return text.encode("ascii").translate(_TABLE)
    return _normalise_unicode(text)


def normalise_chunk(raw: bytes) -> tuple[bytes, int]:
    """A corpus chunk (UTF-8 bytes) normalised, and how many bytes were not valid UTF-8 (each
    such sequence reads as U+FFFD, a separator). Only the lines holding non-ASCII bytes take
    the Unicode path; the rest goes through one ``bytes.translate``."""
    if raw.isascii():
        return raw.translate(_TABLE), 0
    high = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) >= 0x80)
    if len(high) * 64 > len(raw):  # mostly non-ASCII: the whole chunk at once
        return _decode_normalise(raw)
    out, pos, bad, i = [], 0, 0, 0
    while i < len(high):  # each line (run of lines) with non-ASCII bytes
        start = raw.rfind(b"\n", pos, int(high[i])) + 1 or pos
        end = raw.find(b"\n", int(high[i]))
        end = len(raw) if end < 0 else end
        out.append(raw[pos:start].translate(_TABLE))
        norm, b = _decode_normalise(raw[start:end])
        out.append(norm)
        bad += b
        pos = end
        i = int(np.searchsorted(high, end))
    out.append(raw[pos:].translate(_TABLE))
    return b"".join(out), bad


def _decode_normalise(raw: bytes) -> tuple[bytes, int]:
    try:
        text = raw.decode("utf-8")
        bad = 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        bad = text.count("\ufffd") - raw.count("\ufffd".encode())
    return _normalise_unicode(text), bad


def _normalise_unicode(text: str) -> bytes:
    folded = unicodedata.normalize("NFKC", text).casefold()
    cps = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _classes(cps)
    out = np.where(cls == 0, np.uint32(0x20), cps)
    single = cls == 2
    if single.any():  # a space after each ideograph: each is a token of its own
        reps = 1 + single.astype(np.intp)
        out = np.repeat(out, reps)
        out[(np.cumsum(reps) - 1)[single]] = 0x20
    return out.astype("<u4").tobytes().decode("utf-32-le").encode("utf-8").translate(_TABLE)
