"""Bad input, everywhere: every case is the real CLI in a subprocess that must print one line
on stderr naming the file, field or option, exit 2, and leave the folder (and the store's
content) exactly as it was — no half-written store, no new folder, no new store."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import cli_json, make_scenario, run_cli, write_config, write_pool

from evalkit.config import parse_checkpoint
from evalkit.errors import ConfigError, InputError
from evalkit.pools import read_pool

CLOSED = "http://127.0.0.1:9/v1"  # nothing listens there; bad input must stop before a request


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``; a SQLite store by its logical content (its -wal
    and -shm files come and go with readers)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            out[rel] = "dir"
        elif rel.endswith(("-wal", "-shm")):
            continue
        elif path.suffix == ".db":
            with sqlite3.connect(path) as db:
                dump = "\n".join(db.iterdump())
            out[rel] = hashlib.sha256(dump.encode()).hexdigest()
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def fails_cleanly(args: list[str], cwd: Path, *expected: str) -> str:
    """Run ``evalkit ARGS``: exit 2, one line on stderr containing ``expected``, nothing on
    stdout, nothing changed under ``cwd``. Returns the line."""
    before = snapshot(cwd)
    proc = run_cli(args, cwd, check=False, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (args, proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), proc.stderr[-2000:]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert proc.stdout == ""
    assert snapshot(cwd) == before, f"evalkit {' '.join(args)} changed files"
    return lines[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a stored pool 'small', a config pointing at a closed port, a subfolder
    and a few odd files."""
    root = tmp_path_factory.mktemp("bad-input")
    write_pool(root / "pool.jsonl", 6)
    run_cli(["pool", "import", "small", "pool.jsonl"], root)
    write_config(root / "evalkit.toml", CLOSED)
    (root / "adir").mkdir()
    (root / "empty.json").write_text("", encoding="utf-8")
    (root / "object.json").write_text('{"instruction": "q"}\n', encoding="utf-8")
    (root / "array.json").write_text("[]\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------- options

COMPARE = ["compare", "base", "cand", "--pool", "small"]


@pytest.mark.parametrize(("args", "option"), [
    ([*COMPARE, "--limit", "0"], "--limit"),
    ([*COMPARE, "--limit", "-3"], "--limit"),
    ([*COMPARE, "--limit", "ten"], "--limit"),
    ([*COMPARE, "--samples", "0"], "--samples"),
    ([*COMPARE, "--n-boot", "0"], "--n-boot"),
    ([*COMPARE, "--n-boot", "99"], "--n-boot"),
    ([*COMPARE, "--seed", "-1"], "--seed"),
    ([*COMPARE, "--db", "new.db", "--limit", "0"], "--limit"),  # no store made by a typo
    (["leaderboard", "--pool", "small", "--rounds", "0"], "--rounds"),
    (["leaderboard", "--pool", "small", "--seed", "-5"], "--seed"),
    (["gate", "cand", "--max-judgments", "0"], "--max-judgments"),
    (["gate", "cand", "--seed", "-1"], "--seed"),
    (["dashboard", "--port", "0"], "--port"),
    (["dashboard", "--port", "70000"], "--port"),
    (["dashboard", "--host", ""], "--host"),
    ([*COMPARE, "--no-such-option"], "--no-such-option"),
    (["compare"], "checkpoints"),
])
def test_bad_options_name_the_option(project: Path, args: list[str], option: str) -> None:
    fails_cleanly(args, project, option, "evalkit: error:")


def test_report_paths_are_checked_before_any_work(project: Path) -> None:
    fails_cleanly(["gate", "cand", "--baseline", "base", "--pool", "small", "--markdown",
                   "nodir/report.md"], project, "--markdown", "nodir", "does not exist")
    fails_cleanly(["gate", "cand", "--baseline", "base", "--pool", "small", "--junit",
                   "adir"], project, "--junit", "adir", "folder")


# --------------------------------------------------------------------------- config values

SAMPLING = "sampling = {{ temperature = {t}, top_p = {p}, max_tokens = {m}, seed = {s} }}"


def bad_config(project: Path, name: str, base_url: str = CLOSED, sampling: str = "",
               extra: str = "") -> Path:
    path = project / name
    text = (f'[checkpoints.base]\nbase_url = "{base_url}"\nmodel = "base"\n{sampling}\n'
            f'{extra}\n[checkpoints.cand]\nbase_url = "{CLOSED}"\nmodel = "cand"\n'
            f'[judges.sim]\nbase_url = "{CLOSED}"\nmodel = "judge"\n')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("sampling", "field"), [
    (SAMPLING.format(t=-3, p=0.9, m=10, s=0), "sampling.temperature"),
    (SAMPLING.format(t=2.5, p=0.9, m=10, s=0), "sampling.temperature"),
    (SAMPLING.format(t="nan", p=0.9, m=10, s=0), "sampling.temperature"),
    (SAMPLING.format(t=0, p=7, m=10, s=0), "sampling.top_p"),
    (SAMPLING.format(t=0, p=0, m=10, s=0), "sampling.top_p"),
    (SAMPLING.format(t=0, p=0.9, m=-5, s=0), "sampling.max_tokens"),
    (SAMPLING.format(t=0, p=0.9, m=0, s=0), "sampling.max_tokens"),
    (SAMPLING.format(t=0, p=0.9, m=10, s=1.5), "sampling.seed"),
    (SAMPLING.format(t=0, p=0.9, m=10, s='"x"'), "sampling.seed"),
])
def test_bad_sampling_values_name_the_field(project: Path, sampling: str, field: str) -> None:
    path = bad_config(project, "sampling.toml", sampling=sampling)
    fails_cleanly([*COMPARE, "--config", "sampling.toml", "--db", "fresh.db"], project,
                  f"{path.name}: checkpoints.base.{field}")


@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "is not a URL"),
    ("127.0.0.1:8000/v1", "is not a URL"),
    ("ftp://127.0.0.1/v1", "http:// or https://"),
    ("http:///v1", "no valid host"),
    ("http://127.0.0.1:port/v1", "not a valid URL"),
    ("http://127.0.0.1:99999/v1", "not a valid URL"),
])
def test_bad_base_urls_fail_at_load_without_a_request(project: Path, url: str,
                                                      says: str) -> None:
    path = bad_config(project, "url.toml", base_url=url)
    line = fails_cleanly([*COMPARE, "--config", "url.toml"], project,
                         f"{path.name}: checkpoints.base.base_url", says)
    assert "e.g. http" in line or "https://" in line


def test_credentials_in_url_and_api_key_env_is_ambiguous(project: Path) -> None:
    secret = "tok-ambiguous-5d1c"
    bad_config(project, "creds.toml", base_url=f"https://user:{secret}@example.org/v1",
               extra='api_key_env = "OPENAI_API_KEY"')
    line = fails_cleanly([*COMPARE, "--config", "creds.toml"], project,
                         "checkpoints.base.base_url", "api_key_env", "one way")
    assert secret not in line and "***" in line


def test_config_file_missing_or_a_folder(project: Path) -> None:
    fails_cleanly(["comparisons", "--config", "missing.toml"], project, "missing.toml",
                  "not found")
    fails_cleanly(["comparisons", "--config", "adir"], project, "adir", "folder")
    (project / "broken.toml").write_text("[store\n", encoding="utf-8")
    fails_cleanly(["comparisons", "--config", "broken.toml"], project, "broken.toml")


def test_missing_template_file(project: Path) -> None:
    path = bad_config(project, "template.toml")
    path.write_text(path.read_text() + 'template = "no-such-template.toml"\n')
    fails_cleanly([*COMPARE, "--config", "template.toml"], project, "no-such-template.toml",
                  "not found")


# --------------------------------------------------------------------------- files

@pytest.mark.parametrize(("content", "expected"), [
    ('id,prompt\n1,"What is 2+2?\n2,Name a prime.\n', ("bad.csv:2", "'prompt'",
                                                      "unterminated quote")),
    ('id,prompt\n1,"What is 2+2?\n2,"Name a prime."\n', ("bad.csv:2", "'prompt'",
                                                        "runs on to line 3")),
    ('id,prompt,topic\n1,hi\n', ("bad.csv:2", "'topic'", "missing cell")),
    ('id,prompt\n1,hi,math\n', ("bad.csv:2", "'column 3'", "extra cell")),
    ('id,prompt\n1,a\x00b\n', ("bad.csv:2", "'prompt'", "NUL")),
])
def test_bad_csv_pools_import_nothing(project: Path, content: str,
                                      expected: tuple[str, ...]) -> None:
    (project / "bad.csv").write_text(content, encoding="utf-8")
    fails_cleanly(["pool", "import", "broken", "bad.csv"], project, *expected)


def test_bad_pool_file_creates_no_store(project: Path) -> None:
    (project / "bad.csv").write_text('id,prompt\n1,"open\n', encoding="utf-8")
    fails_cleanly(["pool", "import", "broken", "bad.csv", "--db", "new.db"], project,
                  "bad.csv:2", "unterminated")


def test_pool_files_that_are_not_pools(project: Path) -> None:
    (project / "dup.jsonl").write_text('{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": '
                                       '"y"}\n', encoding="utf-8")
    fails_cleanly(["pool", "import", "d", "dup.jsonl"], project, "dup.jsonl:2", "'id'",
                  "duplicate id 'a'")
    fails_cleanly(["pool", "import", "d", "empty.json"], project, "empty.json", "empty pool")
    fails_cleanly(["pool", "import", "d", "adir"], project, "adir")
    fails_cleanly(["pool", "import", "d", "missing.jsonl"], project, "missing.jsonl",
                  "not found")
    fails_cleanly(["pool", "import", "d", "pool.jsonl", "--split", "train"], project,
                  "pool.jsonl", "split")
    fails_cleanly(["pool", "show", "small", "--db", "typo.db"], project, "no store")


@pytest.mark.parametrize(("args", "expected"), [
    (["alpaca-eval", "--outputs", "adir"], ("adir",)),
    (["alpaca-eval", "--outputs", "empty.json"], ("empty.json", "invalid JSON")),
    (["alpaca-eval", "--outputs", "object.json"], ("object.json", "JSON array")),
    (["alpaca-eval", "--outputs", "array.json"], ("array.json", "no model outputs")),
    (["arena-hard", "--questions", "adir", "--answers", "adir"], ("adir",)),
    (["arena-hard", "--questions", "empty.json", "--answers", "empty.json"],
     ("empty.json", "no questions")),
    (["mt-bench", "--questions", "empty.json", "--answers", "empty.json"],
     ("empty.json", "no questions")),
    (["mt-bench", "--questions", "object.json", "--answers", "object.json"],
     ("object.json:1", "question_id")),
])
def test_importers_given_the_wrong_files(project: Path, args: list[str],
                                         expected: tuple[str, ...]) -> None:
    fails_cleanly(["import", *args, "--db", "new.db"], project, *expected)


def test_init_into_a_missing_folder_or_onto_a_folder(project: Path) -> None:
    fails_cleanly(["init", "nofolder/evalkit.toml"], project, "nofolder", "does not exist")
    fails_cleanly(["init", "adir", "--force"], project, "adir", "folder")
    fails_cleanly(["init", "evalkit.toml"], project, "exists")


def test_judge_eval_labels_that_are_not_a_file(project: Path) -> None:
    fails_cleanly(["judge-eval", "sim", "--labels", "adir"], project, "adir")
    fails_cleanly(["judge-eval", "sim", "--labels", "empty.json"], project, "empty.json")


# --------------------------------------------------------------------------- show PREFIX

def test_show_says_ambiguous_and_lists_the_matches(serve, tmp_path: Path) -> None:
    write_pool(tmp_path / "pool.jsonl", 4)
    run_cli(["pool", "import", "small", "pool.jsonl"], tmp_path)
    srv = serve(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    real = cli_json([*COMPARE, "--limit", "2"], tmp_path)["comparison_id"]
    with sqlite3.connect(tmp_path / "evalkit.db") as db:  # two more ids sharing a prefix
        cols = [r[1] for r in db.execute("pragma table_info(comparison)")]
        for new in ("abc0000000000001", "abc0000000000002", "abd0000000000003"):
            picked = ", ".join("?" if c == "id" else c for c in cols)
            db.execute(f"insert into comparison ({', '.join(cols)}) select {picked} "
                       "from comparison where id = ?", (new, real))
    line = fails_cleanly(["show", "abc"], tmp_path, "ambiguous", "abc0000000000001",
                         "abc0000000000002")
    assert "abd" not in line
    fails_cleanly(["show", "a_c"], tmp_path, "no comparison 'a_c'")  # '_' is no wildcard
    fails_cleanly(["show", "a%"], tmp_path, "no comparison 'a%'")  # nor is '%'
    fails_cleanly(["show", "zzz"], tmp_path, "no comparison 'zzz'")
    assert cli_json(["show", "abd"], tmp_path)["comparison_id"] == real  # a copied row
    assert cli_json(["show", real[:6]], tmp_path)["comparison_id"] == real


# --------------------------------------------------------------------------- library level

CSV_CASES = [
    ('id,prompt\n1,"unterminated\n2,next row\n', 2, "prompt", "unterminated quote"),
    ('id,prompt\n1,ok\n2,"swallows\n3,"x"\n', 3, "prompt", "text after a closing quote"),
    ('id,prompt,topic\n1,"hi" ,math\n', 2, "prompt", "text after a closing quote"),
    ('id,"prompt\n1,x\n', 1, "column 2", "unterminated quote"),
    ('id,prompt,topic\n1,hi\n', 2, "topic", "missing cell"),
    ('id,prompt\n\n1,hi,x,y\n', 3, "column 3", "extra cell"),
    ('id,prompt\n1,a\x00b\n', 2, "prompt", "NUL"),
    ('id,pro\x00mpt\n1,a\n', 1, "column 2", "NUL"),
]


@pytest.mark.parametrize(("content", "line", "field", "says"), CSV_CASES)
def test_csv_errors_are_located(tmp_path: Path, content: str, line: int, field: str,
                                says: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_pool(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field), str(err)
    assert says in str(err) and "\n" not in str(err)


def test_valid_csv_quoting_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('id,prompt\n1,"two\nlines"\n2,"say ""hi"""\n3,a "quoted" word\n'
                    '4,"comma, inside"\n', encoding="utf-8")
    texts = [p.messages[0]["content"] for p in read_pool(path)]
    assert texts == ["two\nlines", 'say "hi"', 'a "quoted" word', "comma, inside"]


def test_config_keeps_url_credentials_apart_and_out_of_repr() -> None:
    ckpt = parse_checkpoint("c", {"base_url": "https://me:s3cr%2Ft@Example.org:8443/v1",
                                  "model": "m"})
    assert ckpt.endpoint.base_url == "https://example.org:8443/v1"
    assert ckpt.endpoint.api_key() == "s3cr/t"
    assert "s3cr" not in repr(ckpt) and "s3cr" not in json.dumps(ckpt.identity())
    only_token = parse_checkpoint("c", {"base_url": "http://tok-123@h/v1", "model": "m"})
    assert only_token.endpoint.api_key() == "tok-123"
    assert only_token.endpoint.base_url == "http://h/v1"
    with pytest.raises(ConfigError) as info:
        parse_checkpoint("c", {"base_url": "https://tok-123@h/v1", "model": "m",
                               "api_key_env": "K"})
    assert "tok-123" not in str(info.value) and "base_url" in str(info.value)
    with pytest.raises(ConfigError, match="unknown key 'url_key'"):
        parse_checkpoint("c", {"base_url": "http://h/v1", "model": "m", "url_key": "x"})
