"""``evalkit pool annotate | dedup | sample | hardness | stats``: pool curation (registered
onto the ``pool`` group by ``main.py``). docs/curation.md."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import ConfigOpt, DbOpt, JsonOpt, _config, _engine, _print_json

app = typer.Typer()

VersionOpt = Annotated[str | None, typer.Option("--version", help="the pool version to start "
                                                "from (default: the latest)")]
IntoOpt = Annotated[str | None, typer.Option("--as", help="store the result as a version of "
                                             "this pool (default: a new version of POOL)")]
EXIT_REQUESTS_FAILED = 3


def _near_config(value: str | None, config_path: str | None) -> str | None:
    """A relative path that does not exist here but does next to the config file."""
    if value is None or config_path is None:
        return value
    here = Path(value)
    if here.is_absolute() or here.exists() or not (value.endswith(".toml") or "/" in value):
        return value
    beside = Path(config_path).resolve().parent / value
    return str(beside) if beside.exists() else value


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


@app.command("annotate")
def pool_annotate(
    name: Annotated[str, typer.Argument(help="pool name")],
    classifier: Annotated[str, typer.Option("--classifier", help="a [classifiers.NAME] "
                                            "table of evalkit.toml")],
    taxonomy: Annotated[str | None, typer.Option("--taxonomy", help="topic taxonomy: a "
                                                 "shipped name or a .toml file (default: the "
                                                 "classifier's, else 'default')")] = None,
    human_topic: Annotated[str | None, typer.Option(
        "--human-topic", help="human tag to compare the topics with (default: topic, else "
        "category)")] = None,
    examples: Annotated[int, typer.Option(min=0, help="examples shown per "
                                          "problem")] = 5,
    version: VersionOpt = None, into: IntoOpt = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Label every prompt with an LLM classifier; store the labels as a new version.

    Topic (from a taxonomy), difficulty, a quality flag with a reason, and the language, as
    llm.* tags beside the human tags. Labels are cached; unparsable answers are reported,
    never guessed; failed requests write no version and exit 3.
    """
    cfg = _config(config)
    spec = cfg.classifier(classifier)
    from ..curation.annotate import annotate_pool
    from ..curation.classifier import load_classifier_template
    from ..curation.taxonomy import load_taxonomy

    template = load_classifier_template(_near_config(spec.template, cfg.path) or "default")
    tax = load_taxonomy(_near_config(taxonomy or spec.taxonomy, cfg.path))
    report = annotate_pool(_engine(db, config), name, spec, template, tax, version=version,
                           into=into, human_topic=human_topic, examples=examples,
                           progress=not as_json and sys.stderr.isatty())
    if as_json:
        _print_json(report.to_dict())
    else:
        _annotate_text(report)
    if report.failed:
        raise typer.Exit(EXIT_REQUESTS_FAILED)


def _annotate_text(r: Any) -> None:
    c = r.classifier
    echo = typer.echo
    where = (f"stored as {r.pool}@{r.version}" + ("" if r.created else " (already stored)")
             if r.version else "no version written")
    echo(f"pool {r.pool} (from @{r.source_version}): {r.prompts} prompts labelled by "
         f"classifier {c['name']} (model {c['model']}, template {c['template']}, taxonomy "
         f"{c['taxonomy']}); requests: {r.requested} sent, {r.cached} cached; {where}")
    echo(f"  labelled {r.labelled} of {r.distinct} distinct prompts; unparsable {r.unparsable}"
         f"; failed {r.failed}")
    if r.unparsable:
        echo("  unparsable answers (stored with the answer, prompt left unlabelled):")
        for e in r.unparsable_examples:
            echo(f"    {e.id}: {e.detail}")
    if r.failed:
        echo(f"  {r.failed} requests failed (not cached; run again to ask only for them):")
        for reason, count in r.failure_reasons.items():
            echo(f"    {count} x {reason}")
    if r.flawed_examples:
        echo(f"  flagged flawed: {r.counts['quality'].get('flawed', 0)}")
        for e in r.flawed_examples:
            echo(f"    {e.id}: {e.detail} — {e.text}")
    for field, counts in r.counts.items():
        shown = ", ".join(f"{v} ({n})" for v, n in list(counts.items())[:12])
        more = f", … {len(counts) - 12} more" if len(counts) > 12 else ""
        echo(f"  llm.{field}: {shown}{more}")
    for field, a in r.agreement.items():
        ci = (f" [{_f(a.kappa_ci[0])}, {_f(a.kappa_ci[1])}]" if a.kappa_ci else "")
        echo(f"  agreement of llm.{field} with human tag '{r.agreement_tags[field]}' "
             f"(n={a.n}, {a.n_excluded} without both): accuracy {_f(a.accuracy)}, "
             f"Cohen's kappa {_f(a.kappa)}{ci}, macro F1 {_f(a.macro_f1)}")
        top = sorted(a.per_label, key=lambda s: (-s.support, s.label))[:12]
        for s in top:
            echo(f"    {s.label}: precision {_f(s.precision, 2)}, recall {_f(s.recall, 2)}, "
                 f"support {s.support}")
        if len(a.per_label) > len(top):
            echo(f"    … {len(a.per_label) - len(top)} more labels (--json for all)")


@app.command("dedup")
def pool_dedup(
    name: Annotated[str, typer.Argument(help="pool name")],
    threshold: Annotated[float, typer.Option(min=0.05, max=1.0, help="Jaccard similarity of "
                                             "character shingles at which prompts are "
                                             "duplicates")] = 0.7,
    ngram: Annotated[int, typer.Option(min=1, max=20, help="shingle length in "
                                       "characters")] = 5,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report only; store "
                                          "nothing")] = False,
    show: Annotated[int, typer.Option(min=0, help="clusters listed")] = 20,
    version: VersionOpt = None, into: IntoOpt = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Find exact and near-duplicate prompts and store a version without them.

    Normalised text, MinHash/LSH on character shingles, every candidate checked by exact
    Jaccard; the first prompt of each cluster is kept.
    """
    from ..curation.dedup import DedupConfig, dedup_pool

    out = dedup_pool(_engine(db, config), name, DedupConfig(threshold=threshold, ngram=ngram),
                     version=version, into=into, dry_run=dry_run)
    if as_json:
        _print_json(out.to_dict())
        return
    d: dict[str, Any] = out.to_dict(limit=show)
    removed = d["removed"]
    echo = typer.echo
    echo(f"pool {out.pool} (from @{out.source_version}): {out.prompts} prompts, "
         f"{d['clusters']} duplicate clusters; {removed} to remove ({d['exact_removed']} "
         f"exact, {d['near_removed']} near; duplicate rate {d['duplicate_rate']:.1%})")
    for c in d["cluster_list"]:
        echo(f"  [{c['kind']}, Jaccard >= {c['min_jaccard']:.2f}] keep {c['keep']}, drop "
             f"{', '.join(c['drop'])}")
        for text in c["texts"][:3]:
            echo(f"      {text}")
    if len(d["cluster_list"]) < d["clusters"]:
        echo(f"  … {d['clusters'] - len(d['cluster_list'])} more clusters (--show N or --json)")
    if out.version:
        echo(f"stored {out.pool}@{out.version}: {out.kept} prompts"
             + ("" if out.created else " (already stored)"))
    elif dry_run:
        echo("dry run: nothing stored")
    else:
        echo("no duplicates: nothing stored")
    echo(f"method: {d['method']}")


@app.command("sample")
def pool_sample(
    name: Annotated[str, typer.Argument(help="pool name")],
    n: Annotated[int, typer.Option("--n", min=1, help="prompts to draw")],
    balance: Annotated[str | None, typer.Option(help="tag whose values get equal shares "
                                                "(topic falls back to llm.topic)")] = None,
    stratify: Annotated[str | None, typer.Option(help="tag whose mix each share keeps "
                                                 "(e.g. difficulty)")] = None,
    prefer: Annotated[str, typer.Option(help="random | discriminative (prompts that "
                                        "still separate checkpoints first)")] = "random",
    seed: Annotated[int, typer.Option(min=0)] = 0,
    judge: Annotated[str | None, typer.Option("--judge", "-j", help="judge whose stored "
                                              "comparisons measure discrimination")] = None,
    version: VersionOpt = None, into: IntoOpt = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Draw N prompts as a new version, balanced by a tag (e.g. topic).

    The most even mix of the --balance tag the pool allows, reproducible by --seed,
    optionally stratified and preferring discriminative prompts (then the CI widths against
    the full pool are reported).
    """
    from ..curation.sample import SampleSpec, sample_pool

    spec = SampleSpec(n=n, balance=balance, stratify=stratify, prefer=prefer, seed=seed)
    out = sample_pool(_engine(db, config), name, spec, version=version, into=into,
                      judge=judge)
    if as_json:
        _print_json(out.to_dict())
        return
    d = out.draw
    echo = typer.echo
    echo(f"stored {out.pool}@{out.version}: {len(d.chosen)} of {out.source_prompts} prompts "
         f"from @{out.source_version} (seed {spec.seed}, prefer {spec.prefer})"
         + ("" if out.created else " (already stored)"))
    if d.balance_tag:
        echo(f"  {d.balance_tag}: chosen / available")
        for value, avail in d.available.items():
            echo(f"    {value}: {d.achieved.get(value, 0)} / {avail}")
        if d.left_out:
            echo(f"  {d.left_out} prompts without a '{d.balance_tag}' tag were left out")
    if d.stratify_tag:
        total_src = sum(d.strata_source.values())
        echo(f"  {d.stratify_tag}: chosen (share) vs source share")
        for value, k in d.strata_source.items():
            got = d.strata_achieved.get(value, 0)
            echo(f"    {value}: {got} ({got / len(d.chosen):.1%}) vs {k / total_src:.1%}")
    p = out.precision
    if p:
        echo(f"  CI width of the decisive win rate, mean over {p['pairs']} stored pairs "
             f"(judge {p['judge']}): full pool {p['full']['ci_width_decisive']:.4f} "
             f"({p['full']['prompts']} prompts); this sample "
             f"{p['sample']['ci_width_decisive']:.4f} (x{_f(p['sample']['ratio_to_full'], 2)})"
             f"; a random balanced sample {p['random_sample']['ci_width_decisive']:.4f} "
             f"(x{_f(p['random_sample']['ratio_to_full'], 2)})")
        needed = p["needed_for_full_width"]
        echo("  prompts needed for the full pool's CI width, in this draw's order: "
             + (str(needed) if needed is not None else "more than the pool has"))


@app.command("hardness")
def pool_hardness_cmd(
    name: Annotated[str, typer.Argument(help="pool name")],
    judge: Annotated[str | None, typer.Option("--judge", "-j")] = None,
    saturated_at: Annotated[float, typer.Option("--saturated-at", min=0.0, max=1.0,
                                                help="discrimination at or below which a "
                                                "prompt is saturated")] = 0.1,
    top: Annotated[int, typer.Option(min=0, help="prompts listed (most and least "
                                     "discriminative)")] = 10,
    version: VersionOpt = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Which prompts still separate checkpoints, from the stored comparisons.

    Each prompt's discrimination (how much its outcomes separate the checkpoints) and the
    saturated prompts (every pair ties them).
    """
    from ..curation.hardness import pool_hardness

    report = pool_hardness(_engine(db, config, create=False), name, version=version,
                           judge=judge, saturated_at=saturated_at)
    if as_json:
        _print_json(report.to_dict())
        return
    d = report.to_dict()
    echo = typer.echo
    echo(f"pool {report.pool}@{report.version}: {len(report.prompts)} prompts; "
         f"{report.measured} judged in {len(report.comparisons)} stored pairs of "
         f"{len(report.checkpoints)} checkpoints (judge {report.judge}); "
         f"{report.saturated} saturated (discrimination <= {saturated_at:g}), "
         f"{len(report.prompts) - report.measured} never judged; mean discrimination "
         f"{_f(d['mean_discrimination'])}")
    measured = [p for p in report.prompts if p.measured]
    for title, rows in (("most discriminative", measured[:top]),
                        ("least discriminative", measured[::-1][:top])):
        if rows and top:
            echo(f"  {title}:")
            for p in rows:
                echo(f"    {p.id}: {_f(p.discrimination)} (decisive {_f(p.decisive, 2)}, "
                     f"{p.pairs} pairs{', ' + p.topic if p.topic else ''}"
                     f"{', saturated' if p.saturated else ''})")
    if d["by_topic"]:
        echo(f"  by {report.topic_tag}: prompts, saturated, mean discrimination")
        for topic, row in d["by_topic"].items():
            echo(f"    {topic}: {row['prompts']}, {row['saturated']}, "
                 f"{_f(row['mean_discrimination'])}")
    echo(f"method: {d['method']}")


@app.command("stats")
def pool_stats_cmd(
    name: Annotated[str, typer.Argument(help="pool name")],
    threshold: Annotated[float, typer.Option(min=0.05, max=1.0, help="near-duplicate "
                                             "Jaccard threshold")] = 0.7,
    version: VersionOpt = None,
    config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False,
) -> None:
    """Tag counts, lengths, languages, duplicate rate and topic diversity of a pool.

    Each tag's source (human or classifier) is shown; diversity is the entropy of the topic
    distribution.
    """
    from ..catalog import resolve_pool
    from ..curation.dedup import DedupConfig
    from ..curation.pool_stats import pool_stats

    pool, prompts = resolve_pool(_engine(db, config), name, version)
    s = pool_stats(prompts, DedupConfig(threshold=threshold))
    if as_json:
        _print_json({"pool": {"name": pool.name, "version": pool.version}, **s.to_dict()})
        return
    echo = typer.echo
    echo(f"pool {pool.name}@{pool.version}: {s.prompts} prompts ({s.distinct} distinct, "
         f"{s.multi_turn} multi-turn, {s.with_reference} with reference)")
    for t in s.tags:
        shown = ", ".join(f"{v} ({k})" for v, k in list(t.values.items())[:12])
        more = f", … {len(t.values) - 12} more" if len(t.values) > 12 else ""
        miss = f"; {t.missing} untagged" if t.missing else ""
        echo(f"  {t.name} [{t.source}]: {shown}{more}{miss}")
    for u in (s.chars, s.words):
        q = u.quantiles
        echo(f"  length ({u.unit}): mean {u.mean:.0f}, median {q['median']:.0f}, p10 "
             f"{q['p10']:.0f}, p90 {q['p90']:.0f}, max {q['max']:.0f}")
    echo(f"  languages ({s.language_source}): "
         + ", ".join(f"{k} ({v})" for k, v in list(s.languages.items())[:10]))
    echo(f"  duplicates: rate {s.duplicate_rate:.1%} ({s.exact_duplicates} exact, "
         f"{s.near_duplicates} near, {s.duplicate_clusters} clusters; Jaccard >= "
         f"{threshold:g})")
    dv = s.diversity
    if dv.get("tag"):
        echo(f"  diversity of {dv['tag']}: {dv['topics']} values, entropy "
             f"{dv['entropy_bits']:.3f} bits (normalised {_f(dv['normalized_entropy'])}), "
             f"effective number {dv['effective_topics']}")
    else:
        echo("  diversity: no topic tag (run evalkit pool annotate)")
