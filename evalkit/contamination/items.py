"""What a scan checks: a pool's prompts or a benchmark suite's documents, as items with an id,
a text, a content hash, tags and (for suites) a task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from ..errors import ConfigError
from ..hashing import content_hash

TEXT_VERSION = "messages-joined/1"  # how a prompt becomes one text (part of the items hash)


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    hash: str
    task: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSet:
    """The items of one pool version or one suite, in order."""

    kind: str  # "pool" | "suite"
    name: str
    version: str
    items: tuple[Item, ...]

    @property
    def hash(self) -> str:
        return content_hash({"text": TEXT_VERSION,
                             "items": [[i.id, i.hash, i.task] for i in self.items]}, 24)


def prompt_text(messages: Any) -> str:
    """A prompt's text: every turn's content, one per line (all roles: a copied system or
    assistant turn counts too)."""
    return "\n".join(str(m.get("content") or "") for m in messages)


def pool_items(engine: Engine, name: str, version: str | None = None) -> ItemSet:
    from ..catalog import resolve_pool

    pool, prompts = resolve_pool(engine, name, version)
    items = tuple(Item(p.id, prompt_text(p.messages), p.prompt_hash, None,
                       {k: str(v) for k, v in p.tags.items()}) for p in prompts)
    return ItemSet("pool", pool.name, pool.version, items)


def suite_items(name: str, config_path: str | None = None) -> ItemSet:
    """A suite's evaluation documents as lm-eval shows them zero-shot (``doc_to_text``), one
    item per task and document (id ``task:doc_id``, the doc_id ``evalkit bench`` stores)."""
    try:
        from ..bench.suites import load_suite
    except ImportError:
        raise ConfigError("benchmark suites are not available in this evalkit "
                          "(evalkit.bench); scan a pool with --pool") from None
    suite = load_suite(name, config_path)
    items: list[Item] = []
    for task_name, docs in _suite_docs(suite):
        for doc_id, text in docs:
            items.append(Item(f"{task_name}:{doc_id}", text,
                              content_hash({"task": task_name, "text": text}, 32), task_name,
                              {"task": task_name}))
    version = content_hash([[i.id, i.hash] for i in items], 24)
    return ItemSet("suite", suite.name, version, tuple(items))


def _suite_docs(suite: Any) -> list[tuple[str, list[tuple[int, str]]]]:
    import copy
    import logging

    from lm_eval.tasks import TaskManager, get_task_dict

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    manager = TaskManager(include_path=str(suite.folder), include_defaults=False)
    out = []
    for task in suite.tasks:
        if suite.builtin(task.name) or task.name not in manager.task_index:
            raise ConfigError(f"suite '{suite.name}': task '{task.name}' is not defined in the "
                              "suite's folder; contamination scans read a suite's own task "
                              "data (lm-eval's built-in tasks fetch theirs)")
        cfg = copy.deepcopy(manager.task_index[task.name].cfg)
        src = suite.sources[task.name]
        if src.resolved is not None:  # data files relative to the suite folder
            cfg["dataset_kwargs"] = {**(cfg.get("dataset_kwargs") or {}),
                                     "data_files": src.resolved}
        for key in ("tag", "group", "include"):
            cfg.pop(key, None)
        obj = get_task_dict([cfg], manager)
        obj = next(iter(obj.values())) if isinstance(obj, dict) else obj
        docs = obj.eval_docs
        out.append((task.name, [(i, _doc_text(obj, doc)) for i, doc in enumerate(docs)]))
    return out


def _doc_text(task: Any, doc: Any) -> str:
    text = task.doc_to_text(doc)
    if isinstance(text, int):  # multiple-choice tasks may index their choices
        text = task.doc_to_choice(doc)[text]
    return str(text)
