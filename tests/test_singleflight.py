"""Concurrent asks for one key make one piece of work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conftest import cli_json, make_scenario, run_cli, write_config

from evalkit.singleflight import SingleFlight


def test_concurrent_calls_share_one_run_and_errors_reach_every_waiter() -> None:
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return 42

    async def failing() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    async def main() -> None:
        flight: SingleFlight[int] = SingleFlight()
        assert await asyncio.gather(*(flight.do("k", work) for _ in range(5))) == [42] * 5
        assert calls == 1
        assert await flight.do("k", work) == 42 and calls == 2  # later calls run again
        results = await asyncio.gather(*(flight.do("e", failing) for _ in range(3)),
                                       return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)

    asyncio.run(main())


def test_a_pool_repeating_a_prompt_asks_each_endpoint_once(serve, tmp_path: Path) -> None:
    rows = [{"id": f"p{i}", "prompt": f"Question {i % 5}?"} for i in range(20)]
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    srv = serve(make_scenario())
    write_config(tmp_path / "evalkit.toml", srv.base_url)
    run_cli(["pool", "import", "dup", "pool.jsonl"], tmp_path)
    out = cli_json(["compare", "base", "cand", "--pool", "dup"], tmp_path)
    assert out["overall"]["n"] == 20
    by_model = srv.stats()["by_model"]
    assert by_model["base"]["requests"] == 5 and by_model["judge"]["requests"] == 10
    assert srv.stats()["completed_repeats"] == 0


