"""The two request/response nodes every Event Hubs client talks to.

`$cbs` (claims-based security): the client puts a SAS token before it opens any link, even
against an emulator, and waits for status 200. Tokens are not checked: the emulator is for local
development and tests.

`$management`: READ of `com.microsoft:eventhub` (name, created_at, partition ids) and of
`com.microsoft:partition` (sequence numbers, offset and time of the last event), in exactly the
types `get_eventhub_properties`, `get_partition_ids` and `get_partition_properties` parse.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.eventhub._pyamqp.types import AMQPTypes

from paisa_eventhub_emulator.codec import typed
from paisa_eventhub_emulator.messages import Request, encode_reply
from paisa_eventhub_emulator.storage import EventStore

_LOGGER = logging.getLogger(__name__)

EVENTHUB_TYPE = "com.microsoft:eventhub"
PARTITION_TYPE = "com.microsoft:partition"


def handle_cbs(request: Request) -> bytes:
    """Accept any token."""
    _LOGGER.debug(
        "$cbs %s for %s (%s)",
        request.property("operation"),
        request.property("name"),
        request.property("type"),
    )
    if request.property("operation") != "put-token":
        return encode_reply(
            request, 400, f"unsupported $cbs operation {request.property('operation')!r}"
        )
    return encode_reply(request, 200, "OK")


def handle_management(store: EventStore, request: Request) -> bytes:
    """Answer a READ of an event hub's or a partition's runtime information."""
    operation = request.property("operation")
    entity_type = request.property("type")
    name = request.property("name")
    _LOGGER.debug("$management %s %s %s", operation, entity_type, name)
    if operation != "READ":
        return encode_reply(request, 400, f"unsupported $management operation {operation!r}")
    hub = store.hub(name or "")
    if hub is None:
        return encode_reply(request, 404, f"The messaging entity '{name}' could not be found.")
    if entity_type == EVENTHUB_TYPE:
        return encode_reply(
            request,
            200,
            "OK",
            _typed_map(
                ("name", typed(AMQPTypes.string, hub.name)),
                ("created_at", typed(AMQPTypes.timestamp, hub.created_at_ms)),
                ("partition_count", typed(AMQPTypes.int, len(hub.partitions))),
                (
                    "partition_ids",
                    typed(AMQPTypes.array, [typed(AMQPTypes.string, p) for p in hub.partition_ids]),
                ),
            ),
        )
    if entity_type == PARTITION_TYPE:
        partition_id = str(request.property("partition"))
        partition = hub.partitions.get(partition_id)
        if partition is None:
            return encode_reply(
                request, 404, f"Partition '{partition_id}' of event hub '{name}' does not exist."
            )
        info = partition.info()
        return encode_reply(
            request,
            200,
            "OK",
            _typed_map(
                ("name", typed(AMQPTypes.string, hub.name)),
                ("type", typed(AMQPTypes.string, PARTITION_TYPE)),
                ("partition", typed(AMQPTypes.string, partition_id)),
                ("begin_sequence_number", typed(AMQPTypes.long, info.begin_sequence_number)),
                (
                    "last_enqueued_sequence_number",
                    typed(AMQPTypes.long, info.last_enqueued_sequence_number),
                ),
                ("last_enqueued_offset", typed(AMQPTypes.string, info.last_enqueued_offset)),
                ("last_enqueued_time_utc", typed(AMQPTypes.timestamp, info.last_enqueued_time_ms)),
                ("is_partition_empty", typed(AMQPTypes.boolean, info.is_empty)),
            ),
        )
    return encode_reply(request, 400, f"unsupported $management type {entity_type!r}")


def _typed_map(*entries: tuple[str, Any]) -> dict[str, Any]:
    """A map with string keys (the client's encoder takes typed keys as (key, value) pairs)."""
    return typed(AMQPTypes.map, [(typed(AMQPTypes.string, k), v) for k, v in entries])
