"""AMQP sessions: transfer windows, link handles, and what each attached address becomes.

A client opens one session per client object (plus the `$cbs` and `$management` link pairs on
it), so this is where an Attach is routed: to a node, to a hub or partition for sending, or to a
consumer-group partition for receiving. An address the emulator does not know is attached and
then immediately detached with `amqp:not-found`, which the client reports as its link error.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from azure.eventhub._pyamqp.constants import Role
from azure.eventhub._pyamqp.endpoints import Source, Target
from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.performatives import (
    AttachFrame,
    BeginFrame,
    DetachFrame,
    DispositionFrame,
    EndFrame,
    FlowFrame,
)

from paisa_eventhub_emulator import codec, messages
from paisa_eventhub_emulator.addresses import Address, Kind, parse_address
from paisa_eventhub_emulator.codec import Frame, ProtocolError
from paisa_eventhub_emulator.links import (
    IncomingLink,
    Link,
    Outcome,
    OutgoingLink,
    PartitionReceiverLink,
    ReplyLink,
    Sink,
    accepted,
    rejected,
)
from paisa_eventhub_emulator.nodes import handle_cbs, handle_management
from paisa_eventhub_emulator.positions import SELECTOR_FILTER, StartPosition

if TYPE_CHECKING:
    from paisa_eventhub_emulator.connection import AmqpConnection

_LOGGER = logging.getLogger(__name__)

WINDOW = 65536  # session transfer window, in frames, both ways
HANDLE_MAX = 65535
INGEST_CREDIT = 1000  # messages a producer link may send before the next Flow
NODE_CREDIT = 100
MAX_MESSAGE_SIZE = 1024 * 1024  # what the Standard tier allows
RUNTIME_METRIC = b"com.microsoft:enable-receiver-runtime-metric"


class LinkRefused(Exception):
    """An Attach the emulator answers with an immediate Detach carrying this error."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.error = AMQPError(condition=condition, description=description)


class Session:
    def __init__(
        self, connection: AmqpConnection, channel: int, remote_channel: int, begin: list[Any]
    ) -> None:
        self.connection = connection
        self.channel = channel
        self.remote_channel = remote_channel
        self.next_incoming_id = begin[1] or 0
        self.next_outgoing_id = 0
        self.next_delivery_id = 0
        self.remote_incoming_window = begin[2] or 0
        self.links: dict[int, Link] = {}  # by the client's handle
        self._refused: dict[int, int] = {}  # client handle -> ours, detached by us, awaiting theirs
        self._frames_since_flow = 0

    # -- frames in --------------------------------------------------------------------------

    def dispatch(self, frame: Frame) -> None:
        handlers = {
            0x12: self._on_attach,
            0x13: self._on_flow,
            0x14: self._on_transfer,
            0x15: self._on_disposition,
            0x16: self._on_detach,
        }
        handler = handlers.get(frame.code or 0)
        if handler is None:
            raise ProtocolError(
                "amqp:not-allowed", f"performative 0x{frame.code:02x} is not valid on a session"
            )
        handler(frame)

    def _on_attach(self, frame: Frame) -> None:
        fields = frame.fields
        name = _text(fields[0])
        remote_handle, client_receives = fields[1], bool(fields[2])
        if remote_handle in self.links or remote_handle in self._refused:
            raise ProtocolError("amqp:session:handle-in-use", f"handle {remote_handle} is in use")
        source, target = fields[5] or [], fields[6] or []
        raw_address = (source if client_receives else target)[:1]
        address = parse_address(raw_address[0] if raw_address else None)
        handle = self._allocate_handle()
        offered: list[bytes] | None = None
        try:
            link = self._create_link(fields, name, handle, address, client_receives)
            if isinstance(link, PartitionReceiverLink) and link.runtime_metrics:
                offered = [RUNTIME_METRIC]
        except LinkRefused as refused:
            _LOGGER.info(
                "refusing link %s to %s: %s",
                name,
                _text(raw_address[0] if raw_address else None),
                refused,
            )
            # As AMQP prescribes for a terminus that cannot be created: attach with a null
            # source (or target), then detach at once with the error.
            self._send_attach(fields, handle, client_receives, None, refused=True)
            self._refused[remote_handle] = handle
            self.connection.send(
                self.channel, DetachFrame(handle=handle, closed=True, error=refused.error)
            )
            return
        self.links[remote_handle] = link
        _LOGGER.debug("attached %r", link)
        self._send_attach(fields, handle, client_receives, offered)
        link.start()

    def _create_link(
        self,
        fields: list[Any],
        name: str,
        handle: int,
        address: Address | None,
        client_receives: bool,
    ) -> Link:
        broker = self.connection.broker
        remote_handle = fields[1]
        if address is None:
            raise LinkRefused("amqp:not-found", "The messaging entity could not be found.")
        if address.kind in (Kind.CBS, Kind.MANAGEMENT):
            if client_receives:
                target = fields[6] or [None]
                return ReplyLink(
                    self, name, handle, remote_handle, address, reply_address=_text(target[0])
                )
            return IncomingLink(
                self,
                name,
                handle,
                remote_handle,
                address,
                sink=self._node_sink(address.kind),
                initial_delivery_count=fields[9] or 0,
                credit=NODE_CREDIT,
            )
        hub = broker.store.hub(address.hub or "")
        if hub is None:
            raise LinkRefused(
                "amqp:not-found",
                f"The messaging entity '{address.hub}' could not be found "
                f"(known event hubs: {', '.join(broker.store.hubs) or 'none'}).",
            )
        partition = hub.partitions.get(address.partition_id) if address.partition_id else None
        if address.partition_id is not None and partition is None:
            raise LinkRefused(
                "amqp:not-found",
                f"Partition '{address.partition_id}' of event hub '{hub.name}' does not exist "
                f"(partitions: {', '.join(hub.partition_ids)}).",
            )
        if address.kind is Kind.CONSUMER and not hub.has_consumer_group(
            address.consumer_group or ""
        ):
            # As the service: a consumer group must exist before anyone reads through it.
            raise LinkRefused(
                "amqp:not-found",
                f"The messaging entity '{hub.name}/ConsumerGroups/{address.consumer_group}' "
                f"could not be found (consumer groups: {', '.join(sorted(hub.consumer_groups))}).",
            )
        if client_receives and address.kind is Kind.CONSUMER and partition is not None:
            filters = (fields[5][7] if len(fields[5]) > 7 else None) or {}
            try:
                start = StartPosition.parse(filters.get(SELECTOR_FILTER))
            except ValueError as exc:
                raise LinkRefused("amqp:invalid-field", str(exc)) from None
            return PartitionReceiverLink(
                self,
                name,
                handle,
                remote_handle,
                address,
                partition=partition,
                start=start,
                runtime_metrics=RUNTIME_METRIC in (fields[12] or []),
            )
        if not client_receives and address.kind in (Kind.HUB, Kind.PARTITION):
            return IncomingLink(
                self,
                name,
                handle,
                remote_handle,
                address,
                sink=lambda payload, message_format: broker.ingest(
                    address, payload, message_format
                ),
                initial_delivery_count=fields[9] or 0,
                credit=INGEST_CREDIT,
            )
        direction = "receive from" if client_receives else "send to"
        raise LinkRefused("amqp:not-allowed", f"cannot {direction} '{address}'")

    def _node_sink(self, kind: Kind) -> Sink:
        store = self.connection.broker.store

        def sink(payload: bytes, message_format: int) -> Outcome:
            request = messages.parse_request(payload)
            reply = handle_cbs(request) if kind is Kind.CBS else handle_management(store, request)
            link = self._reply_link(kind, request.message.properties)
            if link is None:
                return rejected(
                    "amqp:precondition-failed", f"no receiver link attached to {kind.value}"
                )
            link.send(reply)
            return accepted()

        return sink

    def _reply_link(self, kind: Kind, properties: Any) -> ReplyLink | None:
        """The receiver link a node reply goes to: the one reply-to names, else the node's."""
        reply_to = _text(properties.reply_to) if properties is not None else None
        candidates = [
            link
            for session in [self, *self.connection.sessions.values()]
            for link in session.links.values()
            if isinstance(link, ReplyLink)
            and link.address is not None
            and link.address.kind is kind
        ]
        for link in candidates:
            if reply_to and link.reply_address == reply_to:
                return link
        return candidates[0] if candidates else None

    def _on_flow(self, frame: Frame) -> None:
        fields = frame.fields
        was_blocked = self.remote_incoming_window <= 0
        self.remote_incoming_window = (fields[0] or 0) + (fields[1] or 0) - self.next_outgoing_id
        handle = fields[4]
        if handle is not None:
            link = self.links.get(handle)
            if link is not None:
                link.on_flow(fields)
            elif handle not in self._refused:
                _LOGGER.debug("flow for unknown handle %s ignored", handle)
        elif fields[9]:  # echo
            self.send_flow(None)
        if was_blocked and self.remote_incoming_window > 0:
            for link in list(self.links.values()):
                if isinstance(link, OutgoingLink):
                    link.pump()

    def _on_transfer(self, frame: Frame) -> None:
        self.next_incoming_id += 1
        self._frames_since_flow += 1
        handle = frame.fields[0]
        link = self.links.get(handle)
        if isinstance(link, IncomingLink):
            link.on_transfer(frame.fields, frame.payload)
        elif handle not in self._refused:
            raise ProtocolError(
                "amqp:session:unattached-handle",
                f"transfer on handle {handle}, which is not attached",
            )
        if self._frames_since_flow >= WINDOW // 2:
            self.send_flow(None)

    def _on_disposition(self, frame: Frame) -> None:
        # Everything the emulator sends is pre-settled, so there is nothing to reconcile.
        _LOGGER.debug("disposition %s..%s ignored", frame.fields[1], frame.fields[2])

    def _on_detach(self, frame: Frame) -> None:
        handle, closed, error = frame.fields[0], frame.fields[1], frame.fields[2]
        if handle in self._refused:
            del self._refused[handle]  # the client's answer to our Detach
            return
        link = self.links.pop(handle, None)
        if link is None:
            _LOGGER.debug("detach for unknown handle %s ignored", handle)
            return
        link.close()
        if error:
            _LOGGER.info("client detached %r with error %r", link, error)
        else:
            _LOGGER.debug("detached %r", link)
        self.connection.send(
            self.channel, DetachFrame(handle=link.handle, closed=closed, error=None)
        )

    # -- frames out -------------------------------------------------------------------------

    def send_begin(self) -> None:
        self.connection.send(
            self.channel,
            BeginFrame(
                remote_channel=self.remote_channel,
                next_outgoing_id=self.next_outgoing_id,
                incoming_window=WINDOW,
                outgoing_window=WINDOW,
                handle_max=HANDLE_MAX,
                offered_capabilities=None,
                desired_capabilities=None,
                properties=None,
            ),
        )

    def _send_attach(
        self,
        fields: list[Any],
        handle: int,
        client_receives: bool,
        offered: list[bytes] | None,
        refused: bool = False,
    ) -> None:
        source, target = fields[5] or [], fields[6] or []
        filters = source[7] if len(source) > 7 and source[7] else None
        echoed_filters = (
            {key: (key, _text(value)) for key, value in filters.items()} if filters else None
        )
        our_source = Source(address=source[0] if source else None, filters=echoed_filters)
        our_target = Target(address=target[0] if target else None)
        self.connection.send(
            self.channel,
            AttachFrame(
                name=fields[0],
                handle=handle,
                role=Role.Sender if client_receives else Role.Receiver,
                send_settle_mode=fields[3],
                rcv_settle_mode=fields[4],
                source=None if refused and client_receives else our_source,
                target=None if refused and not client_receives else our_target,
                unsettled=None,
                incomplete_unsettled=None,
                initial_delivery_count=0 if client_receives else None,
                max_message_size=None if client_receives else MAX_MESSAGE_SIZE,
                offered_capabilities=offered,
                desired_capabilities=None,
                properties=None,
            ),
        )

    def send_flow(self, link: Link | None, **link_state: Any) -> None:
        self._frames_since_flow = 0
        self.connection.send(
            self.channel,
            FlowFrame(
                next_incoming_id=self.next_incoming_id,
                incoming_window=WINDOW,
                next_outgoing_id=self.next_outgoing_id,
                outgoing_window=WINDOW,
                handle=link.handle if link is not None else None,
                delivery_count=link_state.get("delivery_count"),
                link_credit=link_state.get("link_credit"),
                available=link_state.get("available"),
                drain=link_state.get("drain"),
                echo=None,
                properties=None,
            ),
        )

    def send_disposition(self, delivery_id: int, outcome: Outcome) -> None:
        self.connection.send(
            self.channel,
            DispositionFrame(
                role=Role.Receiver,
                first=delivery_id,
                last=delivery_id,
                settled=True,
                state=outcome,
                batchable=None,
            ),
        )

    def can_send(self) -> bool:
        return self.remote_incoming_window > 0 and not self.connection.closing

    def send_transfer(self, link: Link, payload: bytes) -> None:
        delivery_id = self.next_delivery_id
        self.next_delivery_id = (delivery_id + 1) & 0xFFFFFFFF
        frames = codec.encode_transfer(
            self.channel,
            handle=link.handle,
            delivery_id=delivery_id,
            delivery_tag=struct.pack(">I", delivery_id),
            payload=payload,
            max_frame_size=self.connection.remote_max_frame_size,
        )
        for data in frames:
            self.connection.write(data)
        self.next_outgoing_id = (self.next_outgoing_id + len(frames)) & 0xFFFFFFFF
        self.remote_incoming_window -= len(frames)

    def end(self) -> None:
        """The client ended the session: release its links and answer."""
        self.release()
        self.connection.send(self.channel, EndFrame(error=None))

    def release(self) -> None:
        """Forget every link (the session or the whole connection is going away)."""
        for link in self.links.values():
            link.close()
        self.links.clear()
        self._refused.clear()

    def _allocate_handle(self) -> int:
        used = {link.handle for link in self.links.values()} | set(self._refused.values())
        return next(h for h in range(HANDLE_MAX + 1) if h not in used)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
