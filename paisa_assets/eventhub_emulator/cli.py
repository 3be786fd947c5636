"""`python -m paisa_assets.eventhub_emulator`: run the emulator until interrupted.

Prints the connection string to use (with `eventhub_name=` in the client, or the per-hub one that
carries `EntityPath`). Binds to loopback unless told otherwise: the emulator accepts any
credentials, so it must not be reachable from other machines by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from paisa_assets.eventhub_emulator.api import DEFAULT_HUBS, connection_string, serve
from paisa_assets.eventhub_emulator.server import DEFAULT_IDLE_TIMEOUT, EmulatorServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m paisa_assets.eventhub_emulator",
        description="A local Azure Event Hubs endpoint (AMQP 1.0) for the azure-eventhub client.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=5672, help="TCP port (0: any free port)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per event hub")
    parser.add_argument(
        "--hub",
        action="append",
        dest="hubs",
        metavar="NAME",
        help=f"event hub to serve; repeat for several (default: {', '.join(DEFAULT_HUBS)})",
    )
    parser.add_argument(
        "--data-dir", help="keep events in this folder across restarts (default: in memory)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        help="seconds of client silence before a connection is closed (0: never)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    hubs = tuple(args.hubs or DEFAULT_HUBS)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger(__name__).warning(
            "binding to %s: anyone who can reach it can read and write every event hub "
            "(the emulator accepts any credentials)",
            args.host,
        )

    def ready(server: EmulatorServer) -> None:
        print(f"Event Hubs emulator on {server.host}:{server.port}", flush=True)
        print(f"Connection string: {connection_string(server.host, server.port)}", flush=True)
        for hub in server.broker.store.hubs:
            print(f"  {hub}: {connection_string(server.host, server.port, hub)}", flush=True)
        print("Press Ctrl+C to stop.", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await serve(
            host=args.host,
            port=args.port,
            partitions=args.partitions,
            hubs=hubs,
            data_dir=args.data_dir,
            idle_timeout=args.idle_timeout or None,
            stop=stop,
            on_ready=ready,
        )

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
