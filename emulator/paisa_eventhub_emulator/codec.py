"""AMQP 1.0 wire format: frames, message sections and maps.

Encoding and decoding of AMQP types is delegated to the pure-Python codec that ships inside
`azure-eventhub` (`azure.eventhub._pyamqp`), so the emulator speaks exactly the dialect the client
parses. This module only adds what a *server* needs on top of it: reading frames off a stream,
splitting a message into its raw sections (so stored events keep the client's exact bytes and
types instead of a lossy decode/re-encode round trip), and building maps from pre-encoded entries.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from azure.eventhub._pyamqp import _decode, _encode, constants
from azure.eventhub._pyamqp.performatives import TransferFrame
from azure.eventhub._pyamqp.types import TYPE, VALUE, AMQPTypes

AMQP_FRAME = 0
SASL_FRAME = 1
HEADER_FRAME: bytes = constants.HEADER_FRAME  # b"AMQP\x00\x01\x00\x00"
SASL_HEADER_FRAME: bytes = constants.SASL_HEADER_FRAME  # b"AMQP\x03\x01\x00\x00"
EMPTY_FRAME: bytes = constants.EMPTY_FRAME  # a heartbeat
#: Message format of an Event Hubs batch: every data section holds one encoded message.
BATCH_MESSAGE_FORMAT = 0x80013700

# Message section descriptors (AMQP 1.0 part 3.2).
HEADER = 0x70
DELIVERY_ANNOTATIONS = 0x71
MESSAGE_ANNOTATIONS = 0x72
PROPERTIES = 0x73
APPLICATION_PROPERTIES = 0x74
DATA = 0x75
AMQP_SEQUENCE = 0x76
AMQP_VALUE = 0x77
FOOTER = 0x78

_DECODERS = _decode._DECODE_BY_CONSTRUCTOR  # one decoder per AMQP constructor byte
_PERFORMATIVE_ARITY = {
    0x10: 10,  # open
    0x11: 8,  # begin
    0x12: 14,  # attach
    0x13: 11,  # flow
    0x14: 11,  # transfer (the payload follows the fields)
    0x15: 6,  # disposition
    0x16: 3,  # detach
    0x17: 1,  # end
    0x18: 1,  # close
    0x40: 1,  # sasl-mechanisms
    0x41: 3,  # sasl-init
    0x42: 1,  # sasl-challenge
    0x43: 1,  # sasl-response
    0x44: 2,  # sasl-outcome
}


class ProtocolError(Exception):
    """A peer broke the protocol; the connection is closed with this AMQP error condition."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


@dataclass(frozen=True)
class Frame:
    """One decoded frame. `code` is the performative descriptor, or None for a heartbeat."""

    frame_type: int
    channel: int
    code: int | None
    fields: list[Any]
    payload: bytes = b""


def typed(amqp_type: str, value: Any) -> dict[str, Any]:
    """A value with an explicit AMQP type, in the form the client's encoder understands."""
    return {TYPE: amqp_type, VALUE: value}


def encode_value(value: Any) -> bytes:
    """Encode one value (plain Python or `typed(...)`) with the client's encoder."""
    output = bytearray()
    _encode.encode_value(output, value)
    return bytes(output)


def decode_value(raw: bytes | memoryview) -> Any:
    """Decode one encoded value (the inverse of `encode_value`, lossy as the client is)."""
    buffer = memoryview(raw)
    return _DECODERS[buffer[0]](buffer[1:])[1]


def encode_frame(channel: int, performative: NamedTuple, frame_type: int = AMQP_FRAME) -> bytes:
    """A complete frame for a performative (the client's encoder leaves the channel to us)."""
    header, body = _encode.encode_frame(performative, frame_type=bytes([frame_type]))
    return header + struct.pack(">H", channel) + (body or b"")


def encode_transfer(
    channel: int,
    *,
    handle: int,
    delivery_id: int,
    delivery_tag: bytes,
    payload: bytes,
    max_frame_size: int,
    message_format: int = 0,
    settled: bool = True,
) -> list[bytes]:
    """The transfer frames for one delivery, split so no frame exceeds the peer's limit."""

    def frame(chunk: bytes, more: bool, first: bool) -> bytes:
        performative = TransferFrame(
            handle=handle,
            delivery_id=delivery_id if first else None,
            delivery_tag=delivery_tag if first else None,
            message_format=message_format if first else None,
            settled=settled,
            more=more,
            rcv_settle_mode=None,
            state=None,
            resume=None,
            aborted=None,
            batchable=None,
            payload=chunk,
        )
        return encode_frame(channel, performative)

    overhead = len(frame(b"", True, True))
    room = max(max_frame_size - overhead, 64)
    if len(payload) <= room:
        return [frame(payload, False, True)]
    frames = []
    for start in range(0, len(payload), room):
        chunk = payload[start : start + room]
        frames.append(frame(chunk, start + room < len(payload), start == 0))
    return frames


async def read_frame(reader: asyncio.StreamReader, max_frame_size: int) -> Frame:
    """Read and decode the next frame; raises ProtocolError on anything malformed."""
    head = await reader.readexactly(8)
    size, data_offset, frame_type, channel = struct.unpack(">IBBH", head)
    if size < 8 or data_offset < 2 or data_offset * 4 > size:
        raise ProtocolError("amqp:connection:framing-error", f"malformed frame header {head!r}")
    if size > max_frame_size:
        raise ProtocolError(
            "amqp:connection:framing-error",
            f"frame of {size} bytes exceeds the negotiated maximum of {max_frame_size}",
        )
    rest = await reader.readexactly(size - 8)
    body = rest[data_offset * 4 - 8 :]
    if not body:
        return Frame(frame_type, channel, None, [])
    try:
        code, fields, payload = _decode_performative(body)
    except ProtocolError:
        raise
    except Exception as exc:  # the client's decoder raises anything from IndexError to KeyError
        raise ProtocolError("amqp:decode-error", f"undecodable frame body: {exc!r}") from exc
    return Frame(frame_type, channel, code, fields, payload)


def _decode_performative(body: bytes) -> tuple[int, list[Any], bytes]:
    if len(body) < 4 or body[0] != 0x00 or body[1] != 0x53:
        raise ProtocolError("amqp:decode-error", "frame body is not a described performative")
    code = body[2]
    arity = _PERFORMATIVE_ARITY.get(code)
    if arity is None:
        raise ProtocolError("amqp:decode-error", f"unknown performative 0x{code:02x}")
    payload = b""
    if body[3] == 0x45:  # list0: a performative with every field omitted
        fields: list[Any] = []
        payload = body[4:] if code == 0x14 else b""
    else:
        _, fields = _decode.decode_frame(memoryview(body))
        if code == 0x14:  # decode_frame appends the transfer payload after the fields
            payload = bytes(fields.pop())
    fields = [bytes(v) if isinstance(v, memoryview) else v for v in fields]
    return code, fields + [None] * (arity - len(fields)), payload


@dataclass(frozen=True)
class Section:
    """One message section: its descriptor code, the exact bytes, and the encoded value."""

    code: int
    raw: bytes
    value_raw: bytes

    @property
    def value(self) -> Any:
        return decode_value(self.value_raw)


def split_sections(payload: bytes) -> list[Section]:
    """Split an encoded message into its sections without re-encoding anything."""
    sections = []
    buffer = memoryview(payload)
    while buffer:
        if buffer[0] != 0x00:
            raise ProtocolError("amqp:decode-error", "message section is not a described type")
        rest, descriptor = _DECODERS[buffer[1]](buffer[2:])
        if not isinstance(descriptor, int):
            raise ProtocolError("amqp:decode-error", f"unsupported section {descriptor!r}")
        value_start = len(buffer) - len(rest)
        rest, _ = _DECODERS[rest[0]](rest[1:])
        end = len(buffer) - len(rest)
        sections.append(Section(descriptor, bytes(buffer[:end]), bytes(buffer[value_start:end])))
        buffer = rest
    return sections


def map_entries(value_raw: bytes) -> list[tuple[Any, Any, bytes]]:
    """The entries of an encoded map: (decoded key, decoded value, exact bytes of both)."""
    buffer = memoryview(value_raw)
    constructor = buffer[0]
    if constructor == 0x40:  # null
        return []
    if constructor == 0xC1:
        count, rest = buffer[2], buffer[3:]
    elif constructor == 0xD1:
        count, rest = struct.unpack(">I", buffer[5:9])[0], buffer[9:]
    else:
        raise ProtocolError("amqp:decode-error", f"expected a map, got constructor {constructor}")
    entries = []
    for _ in range(count // 2):
        start = rest
        rest, key = _DECODERS[rest[0]](rest[1:])
        rest, value = _DECODERS[rest[0]](rest[1:])
        entries.append((key, value, bytes(start[: len(start) - len(rest)])))
    return entries


def list_items(value_raw: bytes) -> list[bytes]:
    """The exact bytes of each element of an encoded list (to copy a field verbatim)."""
    buffer = memoryview(value_raw)
    constructor = buffer[0]
    if constructor in (0x40, 0x45):  # null, list0
        return []
    if constructor == 0xC0:
        count, rest = buffer[2], buffer[3:]
    elif constructor == 0xD0:
        count, rest = struct.unpack(">I", buffer[5:9])[0], buffer[9:]
    else:
        raise ProtocolError("amqp:decode-error", f"expected a list, got constructor {constructor}")
    items = []
    for _ in range(count):
        start = rest
        rest, _ = _DECODERS[rest[0]](rest[1:])
        items.append(bytes(start[: len(start) - len(rest)]))
    return items


def encode_list(items: Sequence[bytes]) -> bytes:
    """A list from already-encoded elements."""
    body = b"".join(items)
    if not items:
        return b"\x45"
    if len(items) <= 255 and len(body) < 255:
        return bytes([0xC0, len(body) + 1, len(items)]) + body
    return b"\xd0" + struct.pack(">II", len(body) + 4, len(items)) + body


def encode_map(entries: Sequence[bytes]) -> bytes:
    """A map from already-encoded key+value byte strings."""
    body = b"".join(entries)
    count = 2 * len(entries)
    if count <= 255 and len(body) < 255:
        return bytes([0xC1, len(body) + 1, count]) + body
    return b"\xd1" + struct.pack(">II", len(body) + 4, count) + body


def encode_section(code: int, value_raw: bytes) -> bytes:
    """A described message section around an already-encoded value."""
    return b"\x00\x53" + bytes([code]) + value_raw


def symbol_entry(key: str, amqp_type: str, value: Any) -> bytes:
    """One encoded annotation entry: a symbol key and a typed value."""
    return encode_value(typed(AMQPTypes.symbol, key)) + encode_value(typed(amqp_type, value))
