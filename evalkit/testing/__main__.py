"""``python -m evalkit.testing serve SCENARIO.json [--port N]``: run the scripted server."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .server import ScriptedServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evalkit.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a scenario on 127.0.0.1")
    serve.add_argument("scenario", help="scenario JSON file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with open(args.scenario, encoding="utf-8") as fh:
        scenario = json.load(fh)
    server = ScriptedServer(scenario, host=args.host, port=args.port)

    async def run() -> None:
        await server.serve()
        print(server.base_url, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
