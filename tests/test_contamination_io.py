"""Contamination corpus input: bad input is one line (file, line, field) or, with
``--on-error skip``, reported and skipped — never a silent wrong answer; and the Dask path on
a real 2-worker LocalCluster equals the one-process scan exactly."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from conftest import run_cli

from evalkit.contamination.corpus import CorpusSpec
from evalkit.contamination.items import Item, ItemSet
from evalkit.contamination.scan import ScanOptions, run_scan
from evalkit.errors import InputError
from evalkit.store import make_engine

RNG = random.Random(3)
VOCAB = ["".join(RNG.choice("bcdfghklmnprstvz") + RNG.choice("aeiou") for _ in range(3))
         for _ in range(3000)]


def sentence(k: int) -> str:
    return " ".join(RNG.choice(VOCAB) for _ in range(k))


ITEMS = [sentence(30) for _ in range(12)]


def items() -> ItemSet:
    return ItemSet("pool", "p", "v", tuple(Item(f"i{k}", t, f"h{k}") for k, t in
                                           enumerate(ITEMS)))


def scan(paths: list[Path], tmp: Path, **kw: object) -> object:
    engine = make_engine(f"sqlite:///{tmp / 'e.db'}")
    opts = {k: v for k, v in kw.items() if k in ("workers", "piece_bytes", "chunk")}
    spec = {k: v for k, v in kw.items() if k in ("fmt", "field", "on_error")}
    return run_scan(engine, CorpusSpec(tuple(map(str, paths)), **spec), items(),
                    ScanOptions(**opts))  # type: ignore[arg-type]


def dirty(res: object) -> list[int]:
    return [r["position"] for r in res.items if r["label"] == "dirty"]  # type: ignore[attr-defined]


def test_missing_file(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(sentence(40) + "\n" + ITEMS[0] + "\n")
    with pytest.raises(InputError, match=r"nope\.txt: no such file"):
        scan([good, tmp_path / "nope.txt"], tmp_path)
    res = scan([good, tmp_path / "nope.txt"], tmp_path, on_error="skip")
    assert dirty(res) == [0]
    assert json.loads(res.scan["problems_json"]) == [f"{tmp_path / 'nope.txt'}: no such file "
                                                    "or folder"]


def test_truncated_gzip_and_zstd(tmp_path: Path) -> None:
    import zstandard

    body = (sentence(50) + "\n") * 2000 + ITEMS[1] + "\n" + (sentence(50) + "\n") * 2000
    blob = gzip.compress(body.encode())
    (tmp_path / "cut.txt.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match=r"cut\.txt\.gz: truncated gzip file"):
        scan([tmp_path / "cut.txt.gz"], tmp_path)
    z = zstandard.ZstdCompressor().compress(body.encode())
    (tmp_path / "cut.txt.zst").write_bytes(z[:-5])
    with pytest.raises(InputError, match=r"cut\.txt\.zst: truncated zstd file"):
        scan([tmp_path / "cut.txt.zst"], tmp_path)
    (tmp_path / "junk.txt.gz").write_bytes(b"this is not gzip at all")
    with pytest.raises(InputError, match=r"junk\.txt\.gz: not valid gzip data"):
        scan([tmp_path / "junk.txt.gz"], tmp_path)
    (tmp_path / "ok.txt").write_text(ITEMS[2] + "\n")
    res = scan([tmp_path / "cut.txt.gz", tmp_path / "ok.txt"], tmp_path, on_error="skip")
    assert 2 in dirty(res)  # the rest of the corpus is still scanned
    assert "truncated gzip" in json.loads(res.scan["problems_json"])[0]


def test_bad_jsonl_lines_name_file_line_and_field(tmp_path: Path) -> None:
    lines = [json.dumps({"text": sentence(20)}), "{not json", json.dumps({"body": "x"}),
             json.dumps({"text": 5}), json.dumps([1, 2]), json.dumps({"text": ITEMS[3]})]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        scan([path], tmp_path)
    assert str(err.value).startswith(f"{path}:2: not JSON")
    res = scan([path], tmp_path, on_error="skip")
    problems = json.loads(res.scan["problems_json"])
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{i}" for i in (2, 3, 4, 5)]
    assert "field 'text': missing" in problems[1] and "expected text, got int" in problems[2]
    assert dirty(res) == [3]
    with pytest.raises(InputError, match=r"c\.jsonl:1: field 'content': missing"):
        scan([path], tmp_path, field="content")


def test_bad_input_through_the_cli_is_one_line(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text("\n".join(json.dumps({"id": f"i{k}", "prompt": t})
                              for k, t in enumerate(ITEMS)) + "\n")
    run_cli(["pool", "import", "p", "pool.jsonl", "--db", "e.db"], tmp_path)
    (tmp_path / "c.jsonl").write_text('{"text": "fine"}\n{"text": \n')
    for args, want in ((["--corpus", "missing.txt"], "missing.txt: no such file"),
                       (["--corpus", "c.jsonl"], "c.jsonl:2: not JSON"),
                       (["--corpus", "c.jsonl", "--n", "8", "--hit-n", "5"], "--hit-n"),
                       (["--corpus", "c.jsonl", "--clean-below", "0.9"], "thresholds")):
        proc = run_cli(["contamination", "scan", "--pool", "p", "--db", "e.db", *args],
                       tmp_path, check=False)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and want in lines[0], proc.stderr
    proc = run_cli(["contamination", "scan", "--pool", "p", "--db", "e.db", "--corpus",
                    "c.jsonl", "--on-error", "skip", "--json"], tmp_path)
    assert "c.jsonl:2: not JSON" in proc.stderr
    assert json.loads(proc.stdout)["labels"]["clean"] == len(ITEMS)


@pytest.mark.slow
def test_dask_local_cluster_equals_one_process(tmp_path: Path) -> None:
    """Two workers, the corpus cut into many pieces (byte ranges of a text file, whole
    compressed files, row ranges of a dataset): identical per-item results."""
    import datasets

    parts = [sentence(RNG.randint(5, 40)) for _ in range(3000)]
    for k in range(8):  # copies across the whole corpus, some across piece boundaries
        parts[300 * k + 7] = " ".join(ITEMS[k].split()[: 10 + 2 * k]) + " " + parts[300 * k]
    text = "\n".join(parts[:2000]) + "\n"
    (tmp_path / "a.txt").write_text(text)
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(("\n".join(parts[2000:2500]) + "\n")
                                                      .encode()))
    datasets.Dataset.from_dict({"text": parts[2500:]}).save_to_disk(str(tmp_path / "ds"))
    paths = [tmp_path / "a.txt", tmp_path / "b.txt.gz", tmp_path / "ds"]
    one = scan(paths, tmp_path)
    (tmp_path / "e.db").unlink()
    two = scan(paths, tmp_path, workers=2, piece_bytes=4096)
    assert one.scan["runner"] == "local" and two.scan["runner"] == "dask:2"
    assert one.scan["corpus_tokens"] == two.scan["corpus_tokens"]
    assert [r for r in one.items] == [r for r in two.items]
    assert len(dirty(one)) + sum(r["label"] == "partial" for r in one.items) >= 6
