"""The ``evalkit`` command: wires the command groups together (one module per group) and turns
evalkit's own errors into one line and exit code 2.

Each command parses, calls one library function and prints. Heavy libraries are imported
inside the commands so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import typer

from ..errors import EvalkitError
from . import bench, compare, contamination, curation, gate, imports, misc, plan, pool, watch
from . import grade as grade_cli
from . import reward as reward_cli

app = typer.Typer(name="evalkit", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Is the new checkpoint better than the last one? Pairwise LLM-judge "
                       "comparisons with paired bootstrap CIs, stored in SQLite.")
for group in (compare.app, gate.app, plan.app, misc.app, watch.app):
    app.registered_commands.extend(group.registered_commands)
app.registered_commands.extend(reward_cli.app.registered_commands)  # score, rm-eval, rm-vs-judge
app.registered_commands.extend(grade_cli.app.registered_commands)  # grade
app.add_typer(gate.baseline_app, name="baseline")
app.add_typer(imports.import_app, name="import")
pool.pool_app.registered_commands.extend(curation.app.registered_commands)
app.add_typer(pool.pool_app, name="pool")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(contamination.contamination_app, name="contamination")


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: evalkit's own errors print one line and exit 2; an interrupt exits 130."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = app(standalone_mode=False)  # typer turns KeyboardInterrupt into exit code 130
    except EvalkitError as exc:
        sys.stderr.write(f"evalkit: error: {exc}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        rc = 130
    except Exception as exc:
        # click's classes, or the copies newer typer versions vendor: matched by name
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "NoArgsIsHelpError" in kinds:  # a bare group: its help, as asked
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if "ClickException" in kinds:  # usage errors: one line too
            sys.stderr.write(f"evalkit: error: {_usage_line(exc)}\n")
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if "Abort" in kinds:
            rc = 130
        else:
            raise
    if rc == 130:
        sys.stderr.write("evalkit: interrupted; completed work is stored, run again to "
                         "resume\n")
    sys.exit(rc if isinstance(rc, int) else 0)


def _usage_line(exc: Any) -> str:
    """A click usage error as one line naming the option, with where to read more."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(exc, "exit_code", 1) == 2:
        message += f" (see '{ctx.command_path} --help')"
    return message


if __name__ == "__main__":
    main()
