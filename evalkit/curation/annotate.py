"""``evalkit pool annotate``: an LLM classifier labels every prompt of a pool — topic from a
taxonomy, difficulty, a quality flag with a reason, and the language — and the labels become
a new pool version.

- **Cache**: one answer per (classifier identity, prompt hash); the identity holds the model,
  sampling, the template's text hash and the taxonomy's hash (``ClassifierConfig.identity``),
  so a rerun sends no request and a changed template or taxonomy asks again. Answers are
  committed as they arrive (a crash loses nothing completed).
- **Unparsable answers** are stored with the reason and the raw text, reported (count and
  examples) and leave the prompt without labels — never a guess. Failed requests (the
  endpoint never answered) are not cached: they are reported, no version is written, and
  the next run asks only for them.
- **Provenance**: labels go into the tags under the ``llm.`` prefix (``llm.topic``,
  ``llm.difficulty``, ``llm.quality``, ``llm.language``) next to the human tags, which are
  never changed; the version's ``poolderivation`` row names the classifier, its spec hash,
  model, template and taxonomy (docs/curation.md, "Tag provenance"). The quality reasons stay
  in the label cache (a free-text tag would become a tag value per prompt in every report).
- **Agreement**: when the pool has human tags for a labelled field (``topic`` — or the tag
  named by ``human_topic``, else ``category`` — ``difficulty``, ``language``), the report
  has accuracy, Cohen's kappa and per-label precision/recall of the classifier against them.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from ..catalog import resolve_pool
from ..config import ClassifierConfig
from ..hashing import content_hash
from ..pools import PoolPrompt
from ..stats.labels import LabelAgreement, label_agreement
from ..store import pool_queries
from ..store.models import PromptLabel
from .classifier import ClassifierTemplate, Labels, parse_labels
from .taxonomy import Taxonomy, fold
from .versions import LLM_PREFIX, finite, human_tags, store_derived

PREFIX = LLM_PREFIX
FIELDS = ("topic", "difficulty", "quality", "language")
TOPIC_TAGS = ("topic", "category")  # human tags the topic is compared with, by default


@dataclass(frozen=True)
class LabelOutcome:
    """One distinct prompt's result: labels, or why there are none."""

    prompt_hash: str
    labels: Labels | None
    error: str | None = None  # unparsable: why; failed: the endpoint's error
    raw: str | None = None
    cached: bool = False
    failed: bool = False


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    detail: str


@dataclass(frozen=True)
class AnnotationReport:
    pool: str
    source_version: str
    version: str | None  # the new version (None when requests failed)
    created: bool
    prompts: int
    distinct: int
    requested: int
    cached: int
    labelled: int
    unparsable: int
    failed: int
    classifier: dict[str, Any]
    counts: dict[str, dict[str, int]]
    unparsable_examples: tuple[Example, ...] = ()
    failure_reasons: dict[str, int] = field(default_factory=dict)
    flawed_examples: tuple[Example, ...] = ()
    agreement: dict[str, LabelAgreement] = field(default_factory=dict)
    agreement_tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def ex(items: Sequence[Example]) -> list[dict[str, str]]:
            return [{"id": e.id, "prompt": e.text, "detail": e.detail} for e in items]

        return {"pool": {"name": self.pool, "source_version": self.source_version,
                         "version": self.version, "created": self.created,
                         "prompts": self.prompts, "distinct_prompts": self.distinct},
                "classifier": self.classifier,
                "requests": {"sent": self.requested, "cached": self.cached},
                "labelled": self.labelled, "unparsable": self.unparsable,
                "failed": self.failed, "failure_reasons": self.failure_reasons,
                "unparsable_examples": ex(self.unparsable_examples),
                "flawed_examples": ex(self.flawed_examples),
                "counts": self.counts, "tag_prefix": PREFIX,
                "agreement": {f: {"human_tag": self.agreement_tags[f], **finite(a.to_dict())}
                              for f, a in self.agreement.items()}}


def label_key(spec_hash: str, prompt_hash: str) -> str:
    return content_hash([spec_hash, prompt_hash])


class Annotator:
    """Labels prompts with one classifier through the label cache."""

    def __init__(self, engine: Engine, config: ClassifierConfig, template: ClassifierTemplate,
                 taxonomy: Taxonomy, *, progress: bool = False) -> None:
        self.engine = engine
        self.config = config
        self.template = template
        self.taxonomy = taxonomy
        self.identity = config.identity(template.text_hash, taxonomy.hash)
        self.spec_hash = content_hash(self.identity, 16)
        self.progress = progress
        self.requested = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.config.name, "spec_hash": self.spec_hash,
                "model": self.config.endpoint.model, "template": self.template.name,
                "template_hash": self.template.text_hash, "taxonomy": self.taxonomy.name,
                "taxonomy_hash": self.taxonomy.hash}

    def label(self, prompts: Sequence[PoolPrompt]) -> dict[str, LabelOutcome]:
        """Labels of every distinct prompt (cached answers first, then requests)."""
        pool_queries.save_classifier_spec(
            self.engine, self.config.name, self.spec_hash, self.identity, self.template.text,
            {"name": self.taxonomy.name, "hash": self.taxonomy.hash,
             "topics": [[t.name, t.description] for t in self.taxonomy.topics],
             "difficulties": list(self.taxonomy.difficulties)})
        distinct = {p.prompt_hash: p for p in prompts}
        keys = {h: label_key(self.spec_hash, h) for h in distinct}
        stored = pool_queries.labels_by_key(self.engine, list(keys.values()))
        out: dict[str, LabelOutcome] = {}
        missing: list[PoolPrompt] = []
        for h, p in distinct.items():
            row = stored.get(keys[h])
            if row is None:
                missing.append(p)
            elif row.status == "labelled":
                out[h] = LabelOutcome(h, Labels(row.topic or "", row.difficulty or "",
                                                row.quality or "", row.reason or "",
                                                row.language or ""), cached=True)
            else:
                out[h] = LabelOutcome(h, None, error=row.error, raw=row.raw_output,
                                      cached=True)
        if missing:
            out.update(asyncio.run(self._request(missing, keys)))
        return out

    async def _request(self, prompts: list[PoolPrompt], keys: dict[str, str]
                       ) -> dict[str, LabelOutcome]:
        from tqdm import tqdm

        from ..backends.checkpoints import client_for
        from ..store.writer import BatchWriter

        client = client_for(self.config.endpoint, f"classifier '{self.config.name}'")
        writer = BatchWriter(self.engine)
        params = self.config.sampling.request_params()
        results: dict[str, LabelOutcome] = {}
        queue = iter(prompts)
        bar = tqdm(total=len(prompts), disable=not self.progress, unit="prompt",
                   desc="labelling", mininterval=0.5, leave=False, file=sys.stderr)

        async def worker() -> None:
            for prompt in queue:
                messages = self.template.render(prompt.messages, self.taxonomy)
                done = await client.chat(messages, **params)
                self.requested += 1
                h = prompt.prompt_hash
                if not done.ok:
                    results[h] = LabelOutcome(h, None, error=done.error, failed=True)
                else:
                    parsed = parse_labels(done.text or "", self.taxonomy)
                    row: dict[str, Any] = {
                        "key": keys[h], "classifier_spec": self.spec_hash, "prompt_hash": h,
                        "raw_output": done.text, "latency": done.latency,
                        "prompt_tokens": done.prompt_tokens,
                        "completion_tokens": done.completion_tokens}
                    if isinstance(parsed, Labels):
                        row.update(status="labelled", topic=parsed.topic,
                                   difficulty=parsed.difficulty, quality=parsed.quality,
                                   reason=parsed.reason, language=parsed.language)
                        results[h] = LabelOutcome(h, parsed, raw=done.text)
                    else:
                        row.update(status="unparsable", error=parsed)
                        results[h] = LabelOutcome(h, None, error=parsed, raw=done.text)
                    writer.add(PromptLabel, row)
                bar.update(1)

        slots = self.config.endpoint.max_concurrency * max(1, len(self.config.endpoint.urls))
        try:
            await asyncio.gather(*(worker() for _ in range(min(slots, len(prompts)))))
        finally:
            bar.close()
            try:
                await writer.flush()
            finally:
                await client.aclose()
        return results


def annotate_pool(engine: Engine, name: str, config: ClassifierConfig,
                  template: ClassifierTemplate, taxonomy: Taxonomy, *,
                  version: str | None = None, into: str | None = None,
                  human_topic: str | None = None, examples: int = 5,
                  progress: bool = False) -> AnnotationReport:
    """Label pool ``name`` (latest or given version) and store the labelled version as a new
    version of ``into`` (default: the same pool), unless some requests failed."""
    pool, prompts = resolve_pool(engine, name, version)
    if human_topic is not None and not any(human_topic in p.tags for p in prompts):
        from ..errors import ConfigError

        raise ConfigError(f"pool '{pool.name}@{pool.version}' has no tag '{human_topic}' to "
                          "compare the classifier's topics with")
    annotator = Annotator(engine, config, template, taxonomy, progress=progress)
    outcomes = annotator.label(prompts)
    failed = [o for o in outcomes.values() if o.failed]
    unparsable = [o for o in outcomes.values() if o.labels is None and not o.failed]
    labelled_prompts = [_with_labels(p, outcomes[p.prompt_hash].labels) for p in prompts]
    new_version, created = None, False
    if not failed:
        params = {**annotator.describe(), "tag_prefix": PREFIX}
        summary = {"labelled": sum(1 for p in prompts if outcomes[p.prompt_hash].labels),
                   "unparsable": sum(1 for p in prompts
                                     if outcomes[p.prompt_hash].labels is None)}
        stored, created = store_derived(engine, into or pool.name, labelled_prompts, pool,
                                        "annotate", params, summary)
        new_version = stored.version
    by_hash = {p.prompt_hash: p for p in prompts}
    agreement, tags = _agreement(labelled_prompts, taxonomy, human_topic)
    counts = {f: dict(Counter(p.tags[PREFIX + f] for p in labelled_prompts
                              if PREFIX + f in p.tags).most_common()) for f in FIELDS}
    flawed = [p for p in labelled_prompts if p.tags.get(PREFIX + "quality") == "flawed"]
    return AnnotationReport(
        pool=into or pool.name, source_version=pool.version, version=new_version,
        created=created, prompts=len(prompts), distinct=len(outcomes),
        requested=annotator.requested, cached=sum(1 for o in outcomes.values() if o.cached),
        labelled=sum(1 for o in outcomes.values() if o.labels is not None),
        unparsable=len(unparsable), failed=len(failed), classifier=annotator.describe(),
        counts=counts,
        unparsable_examples=tuple(Example(by_hash[o.prompt_hash].id,
                                          _snippet(by_hash[o.prompt_hash]),
                                          f"{o.error}; answer: {_clip(o.raw or '', 160)}")
                                  for o in unparsable[:examples]),
        failure_reasons=dict(Counter(_clip(o.error or "", 120) for o in failed)),
        flawed_examples=tuple(Example(p.id, _snippet(p),
                                      (outcomes[p.prompt_hash].labels or _NO).reason)
                              for p in flawed[:examples]),
        agreement=agreement, agreement_tags=tags)


_NO = Labels("", "", "", "", "")


def _with_labels(prompt: PoolPrompt, labels: Labels | None) -> PoolPrompt:
    """The prompt with its human tags unchanged and the classifier's under ``llm.``."""
    tags = human_tags(prompt.tags)
    if labels is not None:
        tags.update({PREFIX + "topic": labels.topic, PREFIX + "difficulty": labels.difficulty,
                     PREFIX + "quality": labels.quality, PREFIX + "language": labels.language})
    return PoolPrompt(id=prompt.id, messages=prompt.messages, tags=tags,
                      reference=prompt.reference)


def _agreement(prompts: Sequence[PoolPrompt], taxonomy: Taxonomy, human_topic: str | None
               ) -> tuple[dict[str, LabelAgreement], dict[str, str]]:
    """Classifier vs human tags for each field with a human counterpart."""
    names = {k for p in prompts for k in human_tags(p.tags)}
    pairs: dict[str, str] = {}
    topic_tag = human_topic or next((t for t in TOPIC_TAGS if t in names), None)
    if topic_tag is not None and topic_tag in names:
        pairs["topic"] = topic_tag
    for name in ("difficulty", "language"):
        if name in names:
            pairs[name] = name
    out = {}
    for field_, tag in pairs.items():
        canon = {"topic": taxonomy.topic, "difficulty": taxonomy.difficulty}.get(field_)
        truth = []
        for p in prompts:
            value = p.tags.get(tag)
            if value is not None and canon is not None:
                value = canon(value) or value
            elif value is not None:
                value = fold(value)
            truth.append(value)
        predicted = [p.tags.get(PREFIX + field_) for p in prompts]
        out[field_] = label_agreement(predicted, truth)
    return out, pairs


def agreement_for(prompts: Sequence[PoolPrompt], taxonomy: Taxonomy,
                  human_topic: str | None = None) -> dict[str, LabelAgreement]:
    """The agreement of a labelled pool's ``llm.`` tags with its human tags."""
    return _agreement(prompts, taxonomy, human_topic)[0]


def _snippet(prompt: PoolPrompt, limit: int = 100) -> str:
    return _clip(prompt.messages[-1]["content"], limit)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
