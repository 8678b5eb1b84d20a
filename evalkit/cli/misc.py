"""``evalkit demo``, ``dashboard``, ``init``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    _check_output_file,
    _config,
    _console,
    _print_json,
    _store_url,
)

app = typer.Typer()


@app.command()
def demo(
    db: Annotated[str, typer.Option("--db", help="SQLite file for the demo store")] = (
        "evalkit-demo.db"),
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline offline against simulated models (no API key needed)."""
    from ..demo import run_demo
    from ..report import footer, summary_table

    summary = run_demo(_store_url(db, None), progress=not as_json and sys.stderr.isatty())
    truth = summary["simulated"]["true_win_rate"]
    lo, hi = summary["overall"]["ci"]
    summary["simulated"]["covered"] = lo <= truth <= hi
    if as_json:
        _print_json(summary)
        return
    console = _console()
    console.print("[bold yellow]SIMULATED MODELS[/]: two scripted checkpoints and a scripted "
                  f"judge served by evalkit.testing on {summary['simulated']['server']}.")
    console.print(summary_table(summary, tags=["category"]))
    console.print(footer(summary), style="dim", highlight=False)
    verdict = "inside" if summary["simulated"]["covered"] else "OUTSIDE"
    console.print(f"\nThe scripted judge prefers {summary['candidate']} with true win rate "
                  f"[bold]{truth:.3f}[/]; it is {verdict} the printed 95% CI "
                  f"[{lo:.3f}, {hi:.3f}].")
    console.print(f"Results are stored in {db}. To compare real models, run "
                  "[bold]evalkit init[/] and point the checkpoints in evalkit.toml at your "
                  "OpenAI-compatible endpoints (vLLM, SGLang, TGI, Ollama, OpenAI), then "
                  "[bold]evalkit compare BASELINE CANDIDATE --pool rlhf_prompts[/].")


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to serve on")] = 8501,
    host: Annotated[str, typer.Option(help="address to bind; 127.0.0.1 keeps it local")] = (
        "127.0.0.1"),
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Open the Streamlit dashboard on the store (leaderboard, A vs B, samples, trajectory)."""
    from ..dashboard_launch import launch
    from ..errors import ConfigError

    if not host.strip() or any(c.isspace() or c in "/@" for c in host):
        raise ConfigError(f"--host: '{host}' is not an address to bind (e.g. 127.0.0.1)")
    url = _store_url(db, _config(config))
    from ..redact import mask_url

    typer.echo(f"evalkit dashboard on http://{host}:{port} (store: {mask_url(url)})")
    raise typer.Exit(launch(url, host=host, port=port))


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write")] = Path("evalkit.toml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite")] = False,
) -> None:
    """Write a commented example evalkit.toml."""
    from ..errors import ConfigError
    from ..init_template import EXAMPLE_CONFIG

    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite")
    _check_output_file(path)
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    typer.echo(f"wrote {path}")


