"""A local Azure Event Hubs endpoint: a small AMQP 1.0 server for the unmodified client.

No Event Hubs emulator runs here (Microsoft's is a Docker image), so this one speaks enough of the
Event Hubs dialect of AMQP 1.0 for `azure-eventhub` (sync and async): SASL, `$cbs` tokens,
`$management` reads, producers (single events, batches, partition ids and keys) and consumers
(every starting position, long polling, runtime metrics), over per-partition logs kept in memory
or in a folder. It reuses the client's own AMQP codec.

Modules, one concern each: `codec` (wire format), `connection` (handshake, heartbeats, frames),
`session` (windows, attach routing), `links` (credit, deliveries), `nodes` ($cbs, $management),
`messages` (Event Hubs annotations and batches), `positions` (start filters), `addresses`,
`storage` (partitions, persistence), `server` (TCP server, broker), `api` (the Python object for
tests and tools) and `cli`; `compat` refuses an `azure-eventhub` release it was not tested with.
"""

from paisa_eventhub_emulator import compat  # noqa: F401  (first: checks the client's release)
from paisa_eventhub_emulator.api import (
    EventHubEmulator,
    EventRecord,
    connection_string,
    serve,
)
from paisa_eventhub_emulator.cli import main

__all__ = ["EventHubEmulator", "EventRecord", "connection_string", "main", "serve"]
