"""The ``evalkit`` command: wires the command groups together (one module per group) and turns
evalkit's own errors into one line and exit code 2.

Each command parses, calls one library function and prints. Heavy libraries are imported
inside the commands so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, NoReturn

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


def _narrowed(argv: list[str]) -> typer.Typer:
    """The app with only the command or group ``argv`` names (all of them for anything
    else): typer builds every command's parameters before it parses, and a tree of 40
    commands costs 0.1 s of each run (docs/throughput.md, "Time to answer")."""
    name = argv[0] if argv else None
    if name is None or name.startswith("-"):
        return app
    narrow = typer.Typer(name="evalkit", add_completion=False, pretty_exceptions_enable=False,
                         help=app.info.help)
    narrow.callback()(lambda: None)  # a group even with one command: `evalkit NAME …` parses
    for info in app.registered_commands:
        shown = info.name or info.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        if shown == name:
            narrow.registered_commands.append(info)
            return narrow
    for group in app.registered_groups:
        if group.name == name:
            narrow.registered_groups.append(group)
            return narrow
    return app  # an unknown name: the whole app says so, with its list


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: evalkit's own errors print one line and exit 2; an interrupt exits 130."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = _narrowed(sys.argv[1:])(standalone_mode=False)  # typer turns KeyboardInterrupt into exit code 130
    except EvalkitError as exc:
        sys.stderr.write(f"evalkit: error: {exc}\n")
        _exit(2)
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
    _exit(rc if isinstance(rc, int) else 0)


def _exit(rc: int) -> NoReturn:
    """Exit with ``rc`` without the interpreter's teardown, which takes 0.1-0.3 s of every
    command here (hundreds of modules and their objects freed one by one) and does nothing a
    finished command needs: the exit handlers registered with ``atexit`` run, the store's
    connections close (SQLite checkpoints its log into the file), the output is flushed, and
    then the process ends. When a thread that is not a daemon still runs, or a profiler or
    tracer is attached (``python -m cProfile -m evalkit …``), the normal exit runs instead."""
    import threading

    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(rc)
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(rc)  # a profiler, tracer or debugger writes its results after main() returns
    import atexit
    import os

    atexit._run_exitfuncs()
    engine = sys.modules.get("evalkit.store.engine")
    if engine is not None:
        engine.dispose_all()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say there
            pass
    os._exit(rc)


def _usage_line(exc: Any) -> str:
    """A click usage error as one line naming the option, with where to read more."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(exc, "exit_code", 1) == 2:
        message += f" (see '{ctx.command_path} --help')"
    return message


if __name__ == "__main__":
    main()
