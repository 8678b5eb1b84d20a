"""Make ``store_v010.db``: a store written by evalkit 0.1.0 (before Alembic), for the upgrade
test. It is committed as a file; this script documents how it was made:

    git worktree add /tmp/v010 dd13e69      # the last commit with the 0.1.0 schema code
    PYTHONPATH=/tmp/v010 python tests/data/make_store_v010.py tests/data/store_v010.db

It runs a real compare (40 prompts, both orders), a gate run against a promoted baseline and a
second compare, through 0.1.0's own CLI against the scripted server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from evalkit.testing import ScriptedServer


def main(out: str) -> None:
    target = Path(out).resolve()
    target.unlink(missing_ok=True)
    scenario = {"models": {"base": {"kind": "chat"}, "cand": {"kind": "chat"},
                           "third": {"kind": "chat"},
                           "judge": {"kind": "judge", "strengths": {"base": 0.0, "cand": 0.6,
                                                                    "third": 0.3},
                                     "tie_prob": 0.1}}}
    with ScriptedServer(scenario) as srv, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [{"id": f"q{i:03d}", "prompt": f"Question {i}: explain it.",
                 "tags": {"category": ("math", "law", "coding", "safety")[i % 4]}}
                for i in range(40)]
        (work / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        parts = [f'[store]\nurl = "sqlite:///{target}"\n']
        for name in ("base", "cand", "third"):
            parts.append(f'[checkpoints.{name}]\nbase_url = "{srv.base_url}"\nmodel = "{name}"\n')
        parts.append(f'[judges.sim]\nbase_url = "{srv.base_url}"\nmodel = "judge"\n')
        parts.append('[defaults]\njudge = "sim"\npool = "p"\n[gate]\nmin_valid = 10\n')
        (work / "evalkit.toml").write_text("\n".join(parts))

        def cli(*args: str) -> None:
            subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=work, check=False,
                           env={**os.environ}, capture_output=True)

        cli("pool", "import", "p", "pool.jsonl")
        cli("compare", "base", "cand")
        cli("baseline", "promote", "base", "-m", "first")
        cli("gate", "third")


if __name__ == "__main__":
    main(sys.argv[1])
