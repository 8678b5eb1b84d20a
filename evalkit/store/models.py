"""The tables. Keys are content hashes (see DESIGN §2), so every write is idempotent.

Later capabilities (reward-model scores, lm-eval runs, contamination) get tables of their own
when their issues land; nothing here needs to change for them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Pool(SQLModel, table=True):
    """One version of a named pool (a new version per distinct content)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str = Field(index=True)
    n_prompts: int
    source: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Prompt(SQLModel, table=True):
    """A prompt's content, shared by every pool that holds it."""

    hash: str = Field(primary_key=True)
    messages_json: str


class PoolItem(SQLModel, table=True):
    pool_id: int = Field(foreign_key="pool.id", primary_key=True)
    position: int = Field(primary_key=True)
    item_id: str
    prompt_hash: str = Field(foreign_key="prompt.hash", index=True)
    tags_json: str = "{}"
    reference: str | None = None


class Checkpoint(SQLModel, table=True):
    """A checkpoint's identity as used for some generations (a name may have several specs)."""

    spec_hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_json: str
    created_at: datetime = Field(default_factory=utcnow)


class Generation(SQLModel, table=True):
    """One response (or one failure) of a checkpoint to a prompt."""

    key: str = Field(primary_key=True)
    checkpoint_spec: str = Field(index=True)
    prompt_hash: str = Field(index=True)
    sample: int = 0
    response: str | None = None
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float | None = None
    attempts: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class JudgeSpec(SQLModel, table=True):
    spec_hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_json: str
    template_text: str
    created_at: datetime = Field(default_factory=utcnow)


class Judgment(SQLModel, table=True):
    """One verdict of a judge on (prompt, x, y) in one order; ``verdict`` is about positions
    (A = first shown). Failed requests keep ``error`` and no verdict."""

    key: str = Field(primary_key=True)
    judge_spec: str = Field(index=True)
    prompt_hash: str = Field(index=True)
    gen_first: str = Field(index=True)
    gen_second: str
    verdict: str | None = None  # "A", "B", "tie", "invalid"; None when the request failed
    strength: int = 0
    preference: float | None = None  # soft verdict: P(second shown is better), kept unrounded
    raw_output: str | None = None
    error: str | None = None
    reasked: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta_json: str | None = None  # source fields kept verbatim (imports)
    created_at: datetime = Field(default_factory=utcnow)


class ImportRecord(SQLModel, table=True):
    """One import of existing results (AlpacaEval, Arena-Hard, MT-Bench) into a pool."""

    id: int | None = Field(default=None, primary_key=True)
    source: str
    pool_id: int = Field(foreign_key="pool.id", index=True)
    models_json: str
    judges_json: str
    extra_json: str = "{}"
    created_at: datetime = Field(default_factory=utcnow)


class Comparison(SQLModel, table=True):
    """A recorded candidate-vs-baseline result over one pool version with one judge."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    pool_id: int = Field(foreign_key="pool.id", index=True)
    baseline: str = Field(index=True)
    candidate: str = Field(index=True)
    baseline_spec: str
    candidate_spec: str
    judge: str
    judge_spec: str
    evalkit_version: str
    seed: int = 0
    summary_json: str
    duration_s: float | None = None


class ComparisonItem(SQLModel, table=True):
    """Per prompt and sample: the two judgments and the combined outcome for the candidate."""

    __table_args__ = (Index("ix_comparisonitem_item", "comparison_id", "item_id", "sample"),)

    comparison_id: str = Field(foreign_key="comparison.id", primary_key=True)
    position: int = Field(primary_key=True)
    sample: int = Field(default=0, primary_key=True)
    item_id: str
    prompt_hash: str
    gen_baseline: str | None = None
    gen_candidate: str | None = None
    judgment_cand_first: str | None = None
    judgment_base_first: str | None = None
    outcome: str  # "win", "tie", "loss", "invalid", "failed" (candidate's view)
    strength: int = 0
    score: float | None = None


class JudgeEval(SQLModel, table=True):
    """A judge run on human-labelled pairs: agreement and bias figures."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    judge: str = Field(index=True)
    judge_spec: str
    labels: str
    pool_id: int = Field(foreign_key="pool.id")
    comparison_id: str
    summary_json: str


class Promotion(SQLModel, table=True):
    """A checkpoint promoted on purpose as the reference the gate compares against."""

    id: int | None = Field(default=None, primary_key=True)
    pool: str | None = Field(default=None, index=True)  # None: every pool
    checkpoint: str
    who: str
    why: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class GateRun(SQLModel, table=True):
    """A gate decision and everything it was based on."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    candidate: str = Field(index=True)
    baseline: str
    pool: str
    judge: str
    comparison_id: str
    decision: str
    exit_code: int
    report_json: str


class Lease(SQLModel, table=True):
    """A claim on a request in flight (a generation or judgment key), so that processes sharing
    the store never pay for the same request twice. Released when the result is written;
    taken over when it expires or its owner process is gone (docs/reliability.md)."""

    key: str = Field(primary_key=True)
    owner: str = Field(index=True)  # "host:pid:start" of the claiming process
    expires_at: float  # seconds since the epoch; renewed while the request is in flight


class BenchRequest(SQLModel, table=True):
    """One lm-eval request answered by a checkpoint — evalkit's benchmark cache, keyed by the
    checkpoint's spec hash and the request (method and arguments), so it is never shared
    between checkpoints (lm-eval's own cache is keyed without the model)."""

    key: str = Field(primary_key=True)
    checkpoint_spec: str = Field(index=True)
    method: str  # "loglikelihood", "loglikelihood_rolling", "generate_until"
    result_json: str
    created_at: datetime = Field(default_factory=utcnow)


class BenchRun(SQLModel, table=True):
    """One lm-eval task run on one checkpoint: its metrics with standard errors, and what it
    ran (``id`` is a content hash of checkpoint spec, suite task source, limit and lm-eval
    version, so the same run is found again instead of repeated)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    checkpoint: str = Field(index=True)
    checkpoint_spec: str = Field(index=True)
    suite: str = Field(index=True)
    task: str = Field(index=True)
    source_hash: str  # the suite's task definition and data files as run
    task_hash: str  # lm-eval's resolved task config (data files by content)
    lm_eval_version: str
    evalkit_version: str
    mode: str  # "chat", "completions" or "hf": how the checkpoint was asked
    doc_limit: int | None = None
    num_fewshot: int | None = None
    primary_metric: str  # "metric,filter" as lm-eval names it, e.g. "acc,none"
    higher_is_better: bool = True
    n_samples: int = 0
    metrics_json: str  # {"metric,filter": {"value": …, "stderr": …}}
    config_json: str
    requests_json: str = "{}"  # {"cached": …, "sent": …}
    duration_s: float | None = None


class BenchSample(SQLModel, table=True):
    """One document of a run under one filter: what was asked, answered and scored."""

    run_id: str = Field(foreign_key="benchrun.id", primary_key=True)
    filter_name: str = Field(primary_key=True)
    doc_id: int = Field(primary_key=True)
    doc_hash: str = Field(index=True)
    prompt: str
    response: str | None = None  # the generation, or the option chosen by log-likelihood
    extracted: str | None = None  # the filtered answer the metric saw
    target: str
    metrics_json: str  # {"acc": 1.0, "acc_norm": 1.0}


class ContaminationCorpus(SQLModel, table=True):
    """A training corpus as scanned: its files, their sizes and content (``id`` is a hash of
    the files' contents and how they are read, so a moved copy is the same corpus)."""

    id: str = Field(primary_key=True)
    name: str = Field(index=True)
    fmt: str  # "text" | "jsonl" | "parquet" | "hf" | "mixed"
    field: str  # the JSONL field / Parquet or dataset column read
    split: str | None = None
    files_json: str  # [{"path", "size", "hash"}] in stream order
    size: int = Field(sa_type=BigInteger)  # bytes on disk, all files
    content_hash: str
    created_at: datetime = Field(default_factory=utcnow)


class ContaminationScan(SQLModel, table=True):
    """One scan of a pool's or a suite's items against a corpus (``id`` hashes the corpus,
    the items, the method, n and the label thresholds: a rescan is found, not repeated)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    corpus_id: str = Field(foreign_key="contaminationcorpus.id", index=True)
    source_kind: str  # "pool" | "suite"
    source: str = Field(index=True)  # the pool's or suite's name
    source_version: str  # the pool version / the suite's content hash
    items_hash: str
    method: str  # e.g. "ngram-coverage"
    n: int
    hit_n: int | None = None  # the any-hit test's n (GPT-3: 13)
    normaliser: str
    clean_below: float
    dirty_from: float
    n_items: int
    labels_json: str  # {"clean": …, "partial": …, "dirty": …, "short": …}
    corpus_tokens: int = Field(sa_type=BigInteger)
    corpus_bytes: int = Field(sa_type=BigInteger)
    problems_json: str = "[]"  # bad input skipped (on_error = "skip")
    runner: str  # "local" | "dask:WORKERS"
    duration_s: float | None = None


class ContaminationItem(SQLModel, table=True):
    """One item's result in a scan; ``spans_json`` holds the matched spans as [start, end)
    character offsets in ``text`` (kept only for items with a match)."""

    scan_id: str = Field(foreign_key="contaminationscan.id", primary_key=True)
    position: int = Field(primary_key=True)
    item_id: str
    item_hash: str = Field(index=True)
    task: str | None = None
    tags_json: str = "{}"
    n_tokens: int
    covered: int
    fraction: float | None = None
    longest: int = 0
    hit: bool | None = None
    max_count: int = Field(default=0, sa_type=BigInteger)
    label: str
    spans_json: str = "[]"
    text: str | None = None


class ClassifierSpec(SQLModel, table=True):
    """A prompt classifier's identity as used for some labels (``evalkit pool annotate``):
    its config, template text and taxonomy, keyed by the hash of all that decides labels."""

    spec_hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_json: str
    template_text: str
    taxonomy_json: str
    created_at: datetime = Field(default_factory=utcnow)


class PromptLabel(SQLModel, table=True):
    """A classifier's labels for one prompt (``key`` = hash of classifier spec and prompt
    hash): the label cache. An answer that could not be read is kept too (``status``
    ``unparsable``, ``error`` says why, ``raw_output`` is the answer) and never guessed."""

    key: str = Field(primary_key=True)
    classifier_spec: str = Field(index=True)
    prompt_hash: str = Field(index=True)
    status: str  # "labelled" | "unparsable"
    topic: str | None = None
    difficulty: str | None = None
    quality: str | None = None  # "ok" | "flawed"
    reason: str | None = None
    language: str | None = None
    error: str | None = None
    raw_output: str | None = None
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class PoolDerivation(SQLModel, table=True):
    """How a pool version was made from another (annotate, dedup, sample): the operation,
    its parameters (classifier name and spec hash, template, taxonomy, threshold, seed …)
    and a summary; the first derivation that produced a version is kept."""

    pool_id: int = Field(foreign_key="pool.id", primary_key=True)
    parent_id: int = Field(foreign_key="pool.id", index=True)
    operation: str  # "annotate" | "dedup" | "sample"
    params_json: str
    summary_json: str = "{}"
    created_at: datetime = Field(default_factory=utcnow)


class WatchedCheckpoint(SQLModel, table=True):
    """A checkpoint ``evalkit watch`` discovered, and how far its evaluation got: the chain
    position (discovery order, step number, parent), the baselines fixed when its plan
    started, each plan step's result, retries, and the watcher evaluating it now (``owner``,
    a lease renewed while it works), so a restarted watcher finishes what a stopped one began
    (docs/watch.md)."""

    name: str = Field(primary_key=True)
    source: str
    external_id: str  # the id the source lists (a served model name, a folder entry)
    path: str | None = None
    parent: str | None = None
    step: int | None = None
    seq: int = 0  # discovery order
    status: str = Field(index=True)  # pending|running|retrying|done|failed|known|ignored
    plan_json: str | None = None  # {"previous", "promoted": {pool: name}, "notes"}
    steps_json: str = "{}"  # step id -> {"status", "result", "error", "at"}
    attempts: int = 0
    next_attempt_at: float | None = None  # seconds since the epoch
    last_error: str | None = None
    owner: str | None = None
    owner_expires: float | None = None
    summary: str | None = None
    decision: str | None = None
    discovered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class RewardModelSpec(SQLModel, table=True):
    """A reward model's identity as used for some scores (backend, model, how its input is
    built, which logit is the reward)."""

    spec_hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_json: str
    created_at: datetime = Field(default_factory=utcnow)


class Score(SQLModel, table=True):
    """One reward-model score of a response to a prompt (``key`` = hash of the reward model's
    spec, the prompt and the response), or a failed request with its error (retried)."""

    key: str = Field(primary_key=True)
    rm_spec: str = Field(index=True)
    prompt_hash: str = Field(index=True)
    response_hash: str
    score: float | None = None  # the raw reward (no activation)
    error: str | None = None
    latency: float | None = None
    attempts: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class ScoreRun(SQLModel, table=True):
    """``evalkit score``: every response of a checkpoint on one pool version scored by one
    reward model, with the reward distribution per tag (``summary_json``)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    pool_id: int = Field(foreign_key="pool.id", index=True)
    checkpoint: str = Field(index=True)
    checkpoint_spec: str
    reward_model: str = Field(index=True)
    rm_spec: str
    samples: int = 1
    summary_json: str
    duration_s: float | None = None


class ScoreItem(SQLModel, table=True):
    """Per prompt and sample of a score run: the generation and its score (by key)."""

    run_id: str = Field(foreign_key="scorerun.id", primary_key=True)
    position: int = Field(primary_key=True)
    sample: int = Field(default=0, primary_key=True)
    item_id: str
    gen_key: str | None = None
    score_key: str | None = None
    score: float | None = None
    status: str  # "scored" | "failed_generation" | "failed_score"


class RMEval(SQLModel, table=True):
    """``evalkit rm-eval``: a reward model's accuracy on human-labelled preference pairs
    (overall and per subset, with exact binomial CIs in ``summary_json``)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    reward_model: str = Field(index=True)
    rm_spec: str
    pairs: str  # the pair files as given
    pairs_hash: str  # their content
    n: int
    accuracy: float | None = None
    summary_json: str


class RMJudgeReport(SQLModel, table=True):
    """``evalkit rm-vs-judge``: a reward model against an LLM judge on one A-vs-B comparison
    (agreement with its CI, Cohen's kappa, the strongest disagreements)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    pool_id: int = Field(foreign_key="pool.id", index=True)
    baseline: str
    candidate: str
    reward_model: str = Field(index=True)
    rm_spec: str
    judge: str
    judge_comparison_id: str
    rm_comparison_id: str
    summary_json: str


class GraderSpec(SQLModel, table=True):
    """A single-answer grader's identity as used for some grades (model, sampling, rubric
    template text)."""

    spec_hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    spec_json: str
    template_text: str
    created_at: datetime = Field(default_factory=utcnow)


class Grade(SQLModel, table=True):
    """One absolute score of a response by a grader (``key`` = hash of the grader's spec, the
    prompt, its reference and the response). ``valid`` is False for an answer whose score could
    not be read (kept, never coerced); a failed request keeps ``error`` (retried)."""

    key: str = Field(primary_key=True)
    grader_spec: str = Field(index=True)
    prompt_hash: str = Field(index=True)
    gen_key: str | None = None
    score: float | None = None
    valid: bool = False
    raw_output: str | None = None
    error: str | None = None
    reasked: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class GradeRun(SQLModel, table=True):
    """``evalkit grade``: every response of a checkpoint on one pool version graded by one
    grader, with the mean score per tag (``summary_json``)."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    pool_id: int = Field(foreign_key="pool.id", index=True)
    checkpoint: str = Field(index=True)
    checkpoint_spec: str
    grader: str = Field(index=True)
    grader_spec: str
    samples: int = 1
    turns: str = "pool"
    summary_json: str
    duration_s: float | None = None


class GradeItem(SQLModel, table=True):
    """Per prompt and sample of a grade run: the generation, its grade (by key) and score."""

    run_id: str = Field(foreign_key="graderun.id", primary_key=True)
    position: int = Field(primary_key=True)
    sample: int = Field(default=0, primary_key=True)
    item_id: str
    prompt_hash: str
    gen_key: str | None = None
    grade_key: str | None = None
    score: float | None = None
    status: str  # "graded" | "invalid" | "failed_generation" | "failed_grade"
