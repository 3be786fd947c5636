"""`python -m paisa_eventhub_emulator`: run the emulator until interrupted.

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

from paisa_eventhub_emulator.api import DEFAULT_HUBS, connection_string, serve
from paisa_eventhub_emulator.server import DEFAULT_IDLE_TIMEOUT, EmulatorServer
from paisa_eventhub_emulator.storage import DEFAULT_CONSUMER_GROUP, Retention


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m paisa_eventhub_emulator",
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
        "--data-dir",
        help="keep events, their sequence numbers and each hub's identity (created_at) in this "
        "folder across restarts (default: in memory: every start is a new hub)",
    )
    parser.add_argument(
        "--retention-seconds",
        type=float,
        default=None,
        help="events older than this expire, as on Event Hubs (1 to 7 days there; default: "
        "never); the partitions' beginning sequence number moves past them",
    )
    parser.add_argument(
        "--retention-events",
        type=int,
        default=None,
        help="keep only the newest N events per partition (default: all)",
    )
    parser.add_argument(
        "--consumer-group",
        action="append",
        dest="consumer_groups",
        metavar="NAME",
        help=f"consumer group besides {DEFAULT_CONSUMER_GROUP} (repeat for several); readers "
        "naming any other group are refused, as by the service",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.retention_seconds is not None and args.retention_seconds <= 0:
        parser.error("--retention-seconds must be positive")
    if args.retention_events is not None and args.retention_events < 1:
        parser.error("--retention-events must be at least 1")
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
            retention=Retention(args.retention_seconds, args.retention_events),
            consumer_groups=(DEFAULT_CONSUMER_GROUP, *(args.consumer_groups or ())),
        )

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
