"""Suites: evalkit's own small TOML naming the lm-eval tasks to run, with few-shot and
generation settings and the tolerance the gate uses.

A suite is a folder with a ``suite.toml``; lm-eval task YAMLs in the same folder (and their
data, e.g. ``dataset_path: json`` with ``dataset_kwargs.data_files``) are the suite's own
tasks, any other task name is one of lm-eval's built-in tasks (lm-eval fetches its data)::

    name = "offline"                 # default: the folder's name
    description = "…"
    tolerance = 0.02                 # default drop the gate tolerates, per task
    num_fewshot = 0                  # defaults for every task (else the task's own)
    gen_kwargs = { max_gen_toks = 256 }
    bootstrap_iters = 1000           # lm-eval's bootstrap for non-mean metrics' stderr

    [tasks.ek_arith]                 # one table per task, in order
    metric = "exact_match,last-number"   # the metric compare and the gate use
    num_fewshot = 2
    tolerance = 0.03
    gen_kwargs = { max_gen_toks = 64 }

lm-eval hands ``data_files`` to ``datasets`` unchanged, so a relative path would resolve
against the working directory; evalkit resolves it against the suite's folder
(``resolve_data_files``), so ``evalkit bench`` works from anywhere. Reading a suite needs
neither lm-eval nor ``datasets``: the YAMLs are scanned here (``!function`` tags are kept as
opaque), which is enough to know each task's output type, files and content hash.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..hashing import content_hash
from ..tomlfile import read_toml

SUITE_FILE = "suite.toml"
_SUITE_KEYS = {"name", "description", "tolerance", "num_fewshot", "gen_kwargs",
               "bootstrap_iters", "tasks"}
_TASK_KEYS = {"metric", "num_fewshot", "tolerance", "gen_kwargs"}
DEFAULT_TOLERANCE = 0.02
DEFAULT_BOOTSTRAP_ITERS = 1000


@dataclass(frozen=True)
class TaskSource:
    """A task defined by a YAML in the suite folder: its file, the files it includes, the
    output type, and its data files (as written, and resolved against the suite folder)."""

    name: str
    yaml_path: Path
    files: tuple[Path, ...]  # the YAML and everything it includes
    output_type: str | None
    data_files: Any  # as written in the YAML
    resolved: Any  # the same shape, absolute paths


@dataclass(frozen=True)
class SuiteTask:
    name: str
    metric: str | None = None
    num_fewshot: int | None = None
    tolerance: float | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    folder: Path
    description: str = ""
    tasks: tuple[SuiteTask, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE
    bootstrap_iters: int = DEFAULT_BOOTSTRAP_ITERS
    sources: dict[str, TaskSource] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / SUITE_FILE

    def task(self, name: str) -> SuiteTask:
        for t in self.tasks:
            if t.name == name:
                return t
        raise ConfigError(f"{self.path}: suite '{self.name}' has no task '{name}' (tasks: "
                          f"{', '.join(t.name for t in self.tasks)})")

    def tolerance_for(self, task: str) -> float:
        own = self.task(task).tolerance
        return self.tolerance if own is None else own

    def builtin(self, task: str) -> bool:
        """Not defined in the suite folder: one of lm-eval's own tasks."""
        return task not in self.sources

    @cached_property
    def _file_hashes(self) -> dict[Path, str]:
        out: dict[Path, str] = {}
        for src in self.sources.values():
            for p in (*src.files, *data_paths(src.resolved)):
                if p not in out:
                    out[p] = _file_digest(p)
        return out

    def data_digests(self, task: str) -> list[str] | None:
        """The content hashes of a suite task's local data files (None: not a suite task)."""
        src = self.sources.get(task)
        if src is None or src.resolved is None:
            return None
        return [self._file_hashes[p] for p in data_paths(src.resolved)]

    def source_hash(self, task: str, lm_eval_version: str) -> str:
        """What the task's results depend on, besides the checkpoint and the limit: its
        definition and data files by content (or, for a built-in task, its name and the
        lm-eval version), and the suite's settings for it."""
        t = self.task(task)
        settings = {"num_fewshot": t.num_fewshot, "gen_kwargs": t.gen_kwargs,
                    "bootstrap_iters": self.bootstrap_iters}
        src = self.sources.get(task)
        if src is None:
            return content_hash({"builtin": task, "lm_eval": lm_eval_version, **settings}, 24)
        files = {p.name: self._file_hashes[p] for p in src.files}
        data = [self._file_hashes[p] for p in data_paths(src.resolved)]
        return content_hash({"task": task, "yaml": files, "data": data,
                             "lm_eval": lm_eval_version, **settings}, 24)


# ---- loading ---------------------------------------------------------------------------------

def find_suite(name_or_path: str, config_path: str | None = None) -> Path:
    """The folder of a suite given by path (a folder or its suite.toml) or by name: looked up
    in ``suites/`` next to the config file, in ``./suites``, then among the shipped suites."""
    p = Path(name_or_path).expanduser()
    if p.name == SUITE_FILE and p.is_file():
        return p.parent.resolve()
    if (p / SUITE_FILE).is_file() and (p.is_absolute() or "/" in name_or_path
                                       or name_or_path.startswith(".")):
        return p.resolve()
    places = []
    if config_path:
        places.append(Path(config_path).resolve().parent / "suites")
    places.append(Path.cwd() / "suites")
    places.append(shipped_folder())
    for place in places:
        if (place / name_or_path / SUITE_FILE).is_file():
            return (place / name_or_path).resolve()
    if (p / SUITE_FILE).is_file():
        return p.resolve()
    known = ", ".join(sorted(list_suites(config_path))) or "none"
    raise ConfigError(f"no suite '{name_or_path}' (a folder with {SUITE_FILE}; known: {known})")


def shipped_folder() -> Path:
    from ..resources import data_dir

    return data_dir("suites")


def list_suites(config_path: str | None = None) -> dict[str, Path]:
    """Suite name → folder, for every folder with a suite.toml in the places find_suite
    looks (earlier places win)."""
    out: dict[str, Path] = {}
    places = [shipped_folder(), Path.cwd() / "suites"]
    if config_path:
        places.append(Path(config_path).resolve().parent / "suites")
    for place in places:
        if place.is_dir():
            for f in sorted(place.glob(f"*/{SUITE_FILE}")):
                out[f.parent.name] = f.parent.resolve()
    return out


def load_suite(name_or_path: str, config_path: str | None = None) -> Suite:
    folder = find_suite(name_or_path, config_path)
    path = folder / SUITE_FILE
    raw = read_toml(path, "suite file")
    where = str(path)
    _check_keys(where, raw, _SUITE_KEYS)
    name = _typed(where, raw.get("name", folder.name), str, "name")
    tolerance = _tolerance(where, raw.get("tolerance", DEFAULT_TOLERANCE), "tolerance")
    default_shots = raw.get("num_fewshot")
    default_gen = raw.get("gen_kwargs", {})
    _gen(where, default_gen, "gen_kwargs")
    if default_shots is not None:
        _shots(where, default_shots, "num_fewshot")
    boot = _typed(where, raw.get("bootstrap_iters", DEFAULT_BOOTSTRAP_ITERS), int,
                  "bootstrap_iters")
    if boot < 0:
        raise ConfigError(f"{where}: bootstrap_iters: must be at least 0")
    tables = raw.get("tasks")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}: tasks: the suite names no tasks (add a [tasks.NAME] "
                          "table per lm-eval task)")
    tasks = []
    for task, table in tables.items():
        tw = f"{where}: tasks.{task}"
        if not isinstance(table, dict):
            raise ConfigError(f"{tw}: expected a table")
        _check_keys(tw, table, _TASK_KEYS)
        metric = table.get("metric")
        if metric is not None:
            _typed(tw, metric, str, "metric")
        shots = table.get("num_fewshot", default_shots)
        if shots is not None:
            _shots(tw, shots, "num_fewshot")
        gen = {**default_gen, **_gen(tw, table.get("gen_kwargs", {}), "gen_kwargs")}
        tol = table.get("tolerance")
        tasks.append(SuiteTask(name=task, metric=metric, num_fewshot=shots, gen_kwargs=gen,
                               tolerance=None if tol is None else _tolerance(tw, tol,
                                                                             "tolerance")))
    sources = scan_tasks(folder)
    return Suite(name=name, folder=folder, description=str(raw.get("description", "")),
                 tasks=tuple(tasks), tolerance=tolerance, bootstrap_iters=boot,
                 sources={t.name: sources[t.name] for t in tasks if t.name in sources})


def _check_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: "
                          f"{', '.join(sorted(allowed))})")


def _typed(where: str, value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: {name}: expected {kind.__name__}, got "
                          f"{type(value).__name__}")
    return value


def _shots(where: str, value: Any, name: str) -> int:
    _typed(where, value, int, name)
    if value < 0:
        raise ConfigError(f"{where}: {name}: must be at least 0")
    return int(value)


def _gen(where: str, value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {name}: expected a table, e.g. {{ max_gen_toks = 256 }}")
    return dict(value)


def _tolerance(where: str, value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {name}: expected a number")
    if not 0 <= value < 1 or math.isnan(value):
        raise ConfigError(f"{where}: {name}: must be in [0, 1) (a drop of the metric)")
    return float(value)


# ---- the task YAMLs ------------------------------------------------------------------------

def _yaml_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe loading; lm-eval's ``!function`` tags become opaque strings (never run)."""

    def opaque(loader: Any, suffix: str, node: Any) -> str:
        return f"!{suffix} {getattr(node, 'value', '')}"

    Loader.add_multi_constructor("!", opaque)
    return Loader


def _read_yaml(path: Path, loader: Any) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{line}: not valid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return data if isinstance(data, dict) else {}


def _with_includes(path: Path, loader: Any, seen: tuple[Path, ...] = ()
                   ) -> tuple[dict[str, Any], tuple[Path, ...]]:
    cfg = _read_yaml(path, loader)
    files = (*seen, path)
    include = cfg.pop("include", None)
    if isinstance(include, str):
        base_path = (path.parent / include).resolve()
        if base_path.is_file() and base_path not in files:
            base, files = _with_includes(base_path, loader, files)
            cfg = {**base, **cfg}
    return cfg, files


def scan_tasks(folder: Path) -> dict[str, TaskSource]:
    """Every task the YAMLs under ``folder`` define, with its files resolved."""
    loader = _yaml_loader()
    out: dict[str, TaskSource] = {}
    for path in sorted(folder.rglob("*.yaml")):
        cfg, files = _with_includes(path.resolve(), loader)
        name = cfg.get("task")
        if not isinstance(name, str) or name in out:
            continue
        kwargs = cfg.get("dataset_kwargs")
        written = kwargs.get("data_files") if isinstance(kwargs, dict) else None
        out[name] = TaskSource(name=name, yaml_path=path.resolve(), files=files,
                               output_type=cfg.get("output_type"), data_files=written,
                               resolved=resolve_data_files(written, folder, path))
    return out


def resolve_data_files(value: Any, folder: Path, yaml_path: Path) -> Any:
    """``data_files`` with every relative local path made absolute against ``folder``; URLs and
    absolute paths as they are. A missing file is a one-line error naming the YAML."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: resolve_data_files(v, folder, yaml_path) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve_data_files(v, folder, yaml_path) for v in value]
    if not isinstance(value, str):
        raise ConfigError(f"{yaml_path}: dataset_kwargs.data_files: expected paths, got "
                          f"{type(value).__name__}")
    if "://" in value:
        return value
    p = Path(value).expanduser()
    full = p if p.is_absolute() else (folder / p)
    if any(c in value for c in "*?["):
        if not list(full.parent.glob(full.name)):
            raise ConfigError(f"{yaml_path}: dataset_kwargs.data_files: no file matches "
                              f"{value} (paths are relative to the suite folder {folder})")
        return str(full)
    if not full.is_file():
        raise ConfigError(f"{yaml_path}: dataset_kwargs.data_files: {value} not found (paths "
                          f"are relative to the suite folder {folder})")
    return str(full.resolve())


def data_paths(resolved: Any) -> list[Path]:
    if resolved is None:
        return []
    if isinstance(resolved, dict):
        return [p for v in resolved.values() for p in data_paths(v)]
    if isinstance(resolved, list):
        return [p for v in resolved for p in data_paths(v)]
    if "://" in resolved:
        return []
    p = Path(resolved)
    return sorted(p.parent.glob(p.name)) if any(c in resolved for c in "*?[") else [p]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:24]
