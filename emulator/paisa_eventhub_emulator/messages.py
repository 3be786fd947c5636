"""Event Hubs message conventions on top of plain AMQP messages.

Incoming: a producer's transfer is one message, or a batch (message format 0x80013700) whose data
sections each hold one encoded message; the partition key travels as the `x-opt-partition-key`
message annotation. Outgoing: the broker stamps `x-opt-sequence-number` (long), `x-opt-offset`
(string), `x-opt-enqueued-time` (timestamp) and `x-opt-partition-key` (string) on each event, and
with runtime metrics the partition's last-enqueued details as delivery annotations. Requests to
`$cbs` / `$management` get a reply carrying `status-code` and the request's message-id as
correlation-id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from azure.eventhub._pyamqp._decode import decode_payload
from azure.eventhub._pyamqp.message import Message
from azure.eventhub._pyamqp.types import AMQPTypes

from paisa_eventhub_emulator import codec
from paisa_eventhub_emulator.storage import EventDraft, PartitionInfo, StoredEvent

PARTITION_KEY = b"x-opt-partition-key"
#: Annotations only the broker may set; a producer's values for them are dropped.
BROKER_ANNOTATIONS = frozenset(
    {b"x-opt-sequence-number", b"x-opt-offset", b"x-opt-enqueued-time", PARTITION_KEY}
)


class MessageError(ValueError):
    """A producer's message the broker rejects (the delivery fails, the link stays up)."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


def parse_events(payload: bytes, message_format: int) -> tuple[list[EventDraft], str | None]:
    """The events in one transfer to a hub, and the partition key that routes them."""
    try:
        if message_format == codec.BATCH_MESSAGE_FORMAT:
            outer = parse_event(payload)
            drafts = [
                parse_event(section.value, default_key=outer.partition_key)
                for section in codec.split_sections(payload)
                if section.code == codec.DATA
            ]
            key = outer.partition_key or next((d.partition_key for d in drafts), None)
        elif message_format == 0:
            drafts = [parse_event(payload)]
            key = drafts[0].partition_key
        else:
            raise MessageError(
                "amqp:not-implemented", f"message format 0x{message_format:08x} is not supported"
            )
    except MessageError:
        raise
    except Exception as exc:  # a malformed message: reject it, keep the link
        raise MessageError("amqp:decode-error", f"cannot decode the message: {exc}") from exc
    return drafts, key


def parse_event(payload: bytes, default_key: str | None = None) -> EventDraft:
    """Split one encoded message into what is stored, keeping the client's exact bytes."""
    header = b""
    annotations: list[bytes] = []
    bare: list[bytes] = []
    partition_key = default_key
    for section in codec.split_sections(payload):
        if section.code == codec.HEADER:
            header = section.raw
        elif section.code == codec.MESSAGE_ANNOTATIONS:
            for key, value, raw in codec.map_entries(section.value_raw):
                name = key if isinstance(key, bytes) else str(key).encode()
                if name == PARTITION_KEY and value is not None:
                    partition_key = (
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    )
                elif name not in BROKER_ANNOTATIONS:
                    annotations.append(raw)
        elif section.code != codec.DELIVERY_ANNOTATIONS:  # those are for the next hop only
            bare.append(section.raw)
    return EventDraft(header, tuple(annotations), b"".join(bare), partition_key or None)


def encode_event(event: StoredEvent, runtime: PartitionInfo | None = None) -> bytes:
    """The message a receiver gets for a stored event."""
    entries = [
        codec.symbol_entry("x-opt-sequence-number", AMQPTypes.long, event.sequence_number),
        codec.symbol_entry("x-opt-offset", AMQPTypes.string, str(event.offset)),
        codec.symbol_entry("x-opt-enqueued-time", AMQPTypes.timestamp, event.enqueued_time_ms),
    ]
    if event.partition_key is not None:
        entries.append(
            codec.symbol_entry("x-opt-partition-key", AMQPTypes.string, event.partition_key)
        )
    parts = [event.header]
    if runtime is not None:
        metrics = [
            codec.symbol_entry(
                "last_enqueued_sequence_number",
                AMQPTypes.long,
                runtime.last_enqueued_sequence_number,
            ),
            codec.symbol_entry(
                "last_enqueued_offset", AMQPTypes.string, runtime.last_enqueued_offset
            ),
            codec.symbol_entry(
                "last_enqueued_time_utc", AMQPTypes.timestamp, runtime.last_enqueued_time_ms
            ),
            codec.symbol_entry(
                "runtime_info_retrieval_time_utc", AMQPTypes.timestamp, int(time.time() * 1000)
            ),
        ]
        parts.append(codec.encode_section(codec.DELIVERY_ANNOTATIONS, codec.encode_map(metrics)))
    parts.append(
        codec.encode_section(
            codec.MESSAGE_ANNOTATIONS, codec.encode_map(entries + list(event.annotations))
        )
    )
    parts.append(event.bare)
    return b"".join(parts)


def decode_event(event: StoredEvent) -> Message:
    """A stored event as the client's decoder sees it (for inspection in tests)."""
    return decode_payload(memoryview(encode_event(event)))


@dataclass(frozen=True)
class Request:
    """A request to a `$cbs` or `$management` node."""

    message: Message
    message_id_raw: bytes | None  # the encoded message-id, copied verbatim as correlation-id

    def property(self, name: str) -> Any:
        """An application property by name (the client's decoder gives keys as bytes)."""
        properties = self.message.application_properties or {}
        value = properties.get(name.encode(), properties.get(name))
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def parse_request(payload: bytes) -> Request:
    message_id_raw = None
    for section in codec.split_sections(payload):
        if section.code == codec.PROPERTIES:
            items = codec.list_items(section.value_raw)
            if items and items[0] != b"\x40":
                message_id_raw = items[0]
    return Request(decode_payload(memoryview(payload)), message_id_raw)


def encode_reply(request: Request, status_code: int, description: str, value: Any = None) -> bytes:
    """A management reply: correlation-id, status in the application properties, value body."""
    properties = codec.encode_list(
        [b"\x40"] * 5 + [request.message_id_raw] if request.message_id_raw else []
    )
    status = [
        ("status-code", status_code),
        ("status-description", description),
        ("statusCode", status_code),
        ("statusDescription", description),
    ]
    application_properties = codec.encode_map(
        [
            codec.encode_value(codec.typed(AMQPTypes.string, k)) + codec.encode_value(v)
            for k, v in status
        ]
    )
    parts = [
        codec.encode_section(codec.PROPERTIES, properties),
        codec.encode_section(codec.APPLICATION_PROPERTIES, application_properties),
    ]
    if value is not None:
        parts.append(codec.encode_section(codec.AMQP_VALUE, codec.encode_value(value)))
    return b"".join(parts)
