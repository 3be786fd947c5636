"""Link endpoints: the emulator's half of each link a client attaches.

A client *sender* link is an `IncomingLink` here: the emulator grants it credit, assembles
multi-frame transfers and hands each message to a sink (store the events, or answer a node
request), then settles it with the outcome when the client sent it unsettled.

A client *receiver* link is an `OutgoingLink`: the client grants credit with Flow frames and the
emulator sends as many messages as the credit allows, from a partition (stored events, then new
ones as they arrive, for as long as the link stays attached: the long poll) or from a queue of
node replies. Deliveries go out pre-settled, as Event Hubs does.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.outcomes import Accepted, Rejected

from paisa_eventhub_emulator import messages
from paisa_eventhub_emulator.addresses import Address
from paisa_eventhub_emulator.codec import ProtocolError
from paisa_eventhub_emulator.positions import StartPosition
from paisa_eventhub_emulator.storage import Partition, StoredEvent

if TYPE_CHECKING:
    from paisa_eventhub_emulator.session import Session

_LOGGER = logging.getLogger(__name__)

#: Bigger than any message the broker accepts (1 MiB); a sender exceeding it is cut off.
MAX_DELIVERY_SIZE = 4 * 1024 * 1024

Outcome = Any  # an Accepted() or Rejected(...) delivery state of the client's codec
Sink = Callable[[bytes, int], Outcome]


def accepted() -> Outcome:
    return Accepted()


def rejected(condition: str, description: str) -> Outcome:
    return Rejected(error=AMQPError(condition=condition, description=description))


class Link:
    """What both directions share: names, handles and the owning session."""

    def __init__(
        self, session: Session, name: str, handle: int, remote_handle: int, address: Address | None
    ) -> None:
        self.session = session
        self.name = name
        self.handle = handle
        self.remote_handle = remote_handle
        self.address = address
        self.delivery_count = 0
        self.credit = 0
        self.closed = False

    def on_flow(self, fields: list[Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self) -> None:
        """Called once the Attach reply is out."""

    def close(self) -> None:
        """Release what the link holds; no frames are sent."""
        self.closed = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address} handle={self.handle}>"


class IncomingLink(Link):
    """The client sends; every complete message goes to `sink`, which returns the outcome."""

    def __init__(
        self,
        session: Session,
        name: str,
        handle: int,
        remote_handle: int,
        address: Address | None,
        *,
        sink: Sink,
        initial_delivery_count: int,
        credit: int,
    ) -> None:
        super().__init__(session, name, handle, remote_handle, address)
        self.sink = sink
        self.delivery_count = initial_delivery_count
        self.window = credit
        self._partial: bytearray | None = None
        self._first: list[Any] | None = None

    def start(self) -> None:
        self._grant()

    def _grant(self) -> None:
        self.credit = self.window
        self.session.send_flow(self, delivery_count=self.delivery_count, link_credit=self.credit)

    def on_flow(self, fields: list[Any]) -> None:
        if fields[9]:  # echo: the client asks for our link state
            self.session.send_flow(
                self, delivery_count=self.delivery_count, link_credit=self.credit
            )

    def on_transfer(self, fields: list[Any], payload: bytes) -> None:
        """Assemble a delivery (it may span frames) and settle it once complete."""
        if self._first is None:
            self._first, self._partial = fields, bytearray()
        assert self._partial is not None
        self._partial += payload
        if len(self._partial) > MAX_DELIVERY_SIZE:
            raise ProtocolError(
                "amqp:link:message-size-exceeded",
                f"a delivery of more than {MAX_DELIVERY_SIZE} bytes on {self.address}",
            )
        if fields[5]:  # more frames of this delivery follow
            return
        first, body = self._first, bytes(self._partial)
        self._first = self._partial = None
        self.delivery_count += 1
        self.credit -= 1
        if fields[9]:  # aborted by the sender
            return
        delivery_id, message_format, settled = first[1], first[3] or 0, bool(first[4])
        try:
            outcome = self.sink(body, message_format)
        except Exception as exc:  # never let one bad message take the connection down
            _LOGGER.exception("%r: failed to process a message", self)
            outcome = rejected("amqp:internal-error", f"the emulator failed: {exc!r}")
        if not settled and delivery_id is not None:
            self.session.send_disposition(delivery_id, outcome)
        if self.credit <= self.window // 2:
            self._grant()


class OutgoingLink(Link):
    """The emulator sends: as many messages as the client's credit allows."""

    def __init__(
        self,
        session: Session,
        name: str,
        handle: int,
        remote_handle: int,
        address: Address | None,
    ) -> None:
        super().__init__(session, name, handle, remote_handle, address)
        self._drain = False

    def next_payload(self) -> bytes | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def available(self) -> int:
        return 0

    def on_flow(self, fields: list[Any]) -> None:
        delivery_count, link_credit, drain, echo = fields[5], fields[6], fields[8], fields[9]
        if link_credit is not None:
            base = self.delivery_count if delivery_count is None else delivery_count
            self.credit = max(0, base + link_credit - self.delivery_count)
        self._drain = bool(drain)
        self.pump()
        if echo:
            self._report()

    def _report(self) -> None:
        self.session.send_flow(
            self,
            delivery_count=self.delivery_count,
            link_credit=self.credit,
            available=self.available(),
            drain=self._drain or None,
        )

    def pump(self) -> None:
        """Send while there is credit, session window and something to send."""
        if self.closed:
            return
        while self.credit > 0 and self.session.can_send():
            payload = self.next_payload()
            if payload is None:
                break
            self.session.send_transfer(self, payload)
            self.delivery_count += 1
            self.credit -= 1
        if self._drain and self.credit > 0 and self.available() == 0:
            self.delivery_count += self.credit  # drain: use up the credit, tell the client
            self.credit = 0
            self._report()
            self._drain = False


class ReplyLink(OutgoingLink):
    """The response half of a `$cbs` / `$management` link pair.

    `reply_address` is the client's own address for the link (its target), which a request may
    name in `reply-to`; the Python client leaves `reply-to` empty and expects the reply on the
    receiver link it attached to the same node.
    """

    def __init__(
        self,
        session: Session,
        name: str,
        handle: int,
        remote_handle: int,
        address: Address,
        *,
        reply_address: str,
    ) -> None:
        super().__init__(session, name, handle, remote_handle, address)
        self.reply_address = reply_address
        self._queue: deque[bytes] = deque()

    def send(self, payload: bytes) -> None:
        self._queue.append(payload)
        self.pump()

    def next_payload(self) -> bytes | None:
        return self._queue.popleft() if self._queue else None

    def available(self) -> int:
        return len(self._queue)


class PartitionReceiverLink(OutgoingLink):
    """A consumer on one partition: stored events from the start position, then new ones."""

    def __init__(
        self,
        session: Session,
        name: str,
        handle: int,
        remote_handle: int,
        address: Address,
        *,
        partition: Partition,
        start: StartPosition,
        runtime_metrics: bool,
    ) -> None:
        super().__init__(session, name, handle, remote_handle, address)
        self.partition = partition
        self.runtime_metrics = runtime_metrics
        self.cursor, self._admits = start.resolve(partition)
        self._wake = session.connection.call_soon_pump(self)
        self._again: bytes | None = None  # an event to send a second time (fault injection)

    def start(self) -> None:
        self.partition.subscribe(self._wake)

    def close(self) -> None:
        super().close()
        self.partition.unsubscribe(self._wake)

    def available(self) -> int:
        return max(0, self.partition.end - max(self.cursor, self.partition.begin))

    def next_payload(self) -> bytes | None:
        if self._again is not None:
            payload, self._again = self._again, None
            return payload
        while True:
            # Events expired under the cursor: continue from the oldest retained, as the
            # service does for a position before the partition's beginning.
            self.cursor = max(self.cursor, self.partition.begin)
            event: StoredEvent | None = self.partition.get(self.cursor)
            if event is None:
                return None
            self.cursor += 1
            if self._admits is not None:
                if not self._admits(event):
                    continue
                self._admits = None  # positions only grow: every later event matches too
            runtime = self.partition.info() if self.runtime_metrics else None
            payload = messages.encode_event(event, runtime)
            self._inject_faults(payload)
            return payload

    def _inject_faults(self, payload: bytes) -> None:
        """Apply the broker's `DeliveryFaults` to the event about to be sent."""
        faults = self.session.connection.broker.faults
        if faults.duplicate:
            self._again = payload
        if faults.drop_after is not None:
            faults.drop_after -= 1
            if faults.drop_after <= 0:
                faults.drop_after = None
                faults.dropped += 1
                _LOGGER.info("%r: dropping the connection mid-receive (fault)", self)
                # After this transfer is written: the client has part of what it asked for.
                asyncio.get_running_loop().call_soon(self.session.connection.abort)
