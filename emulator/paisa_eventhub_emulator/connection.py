"""One client connection: protocol headers, SASL, Open/Close, heartbeats and frame dispatch.

The handshake is the one the client performs: SASL header and mechanisms (ANONYMOUS, PLAIN and
MSSBCBS are offered; any credentials are accepted because the client authenticates per entity
through `$cbs` anyway), then the AMQP header, then Open. Afterwards frames are read in a loop and
handed to the session of their channel.

A peer that breaks the protocol gets a Close with the AMQP error and its connection is closed; the
server and every other connection carry on. The emulator's idle timeout is advertised in Open and
enforced (a peer silent for longer is closed with `amqp:resource-limit-exceeded`), and when the
client asks for one, empty frames are sent at half its idle timeout to keep it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from azure.eventhub._pyamqp.error import AMQPError
from azure.eventhub._pyamqp.performatives import (
    CloseFrame,
    OpenFrame,
    SASLMechanism,
    SASLOutcome,
)

from paisa_eventhub_emulator import codec
from paisa_eventhub_emulator.codec import Frame, ProtocolError
from paisa_eventhub_emulator.session import Session

if TYPE_CHECKING:
    from paisa_eventhub_emulator.links import OutgoingLink
    from paisa_eventhub_emulator.server import Broker

_LOGGER = logging.getLogger(__name__)

MAX_FRAME_SIZE = 1024 * 1024
CHANNEL_MAX = 4095
SASL_MECHANISMS = [b"MSSBCBS", b"PLAIN", b"ANONYMOUS"]
HANDSHAKE_TIMEOUT = 30.0
OPEN, BEGIN, END, CLOSE = 0x10, 0x11, 0x17, 0x18


class _Closed(Exception):
    """The connection is over (quietly: the reason was already logged or sent)."""


class AmqpConnection:
    def __init__(
        self,
        broker: Broker,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        idle_timeout: float | None,
    ) -> None:
        self.broker = broker
        self.reader = reader
        self.writer = writer
        self.idle_timeout = idle_timeout
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.container_id = "?"
        self.sessions: dict[int, Session] = {}  # by the client's channel
        # Channels whose session ended: the client may still send Detach frames on them after
        # its End (the Python client does), which are ignored rather than treated as errors.
        self._ended_channels: set[int] = set()
        self.remote_max_frame_size = 512
        self.remote_idle_timeout: float | None = None
        self.opened = False
        self.closing = False
        self.last_received = self.last_sent = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run the connection until the client leaves, breaks the protocol or is dropped."""
        keepalive: asyncio.Task[None] | None = None
        try:
            await asyncio.wait_for(self._negotiate(), HANDSHAKE_TIMEOUT)
            keepalive = asyncio.create_task(self._keepalive())
            while not self.closing:
                frame = await codec.read_frame(self.reader, MAX_FRAME_SIZE)
                self.last_received = time.monotonic()
                self._dispatch(frame)
                await self.writer.drain()
        except _Closed:
            pass
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            if not self.closing:
                _LOGGER.info("%s: disconnected (%s)", self, type(exc).__name__)
        except ProtocolError as exc:
            _LOGGER.warning("%s: %s: %s", self, exc.condition, exc.description)
            self.close(exc.condition, exc.description)
        except Exception as exc:  # a bug must cost one connection, not the server
            _LOGGER.exception("%s: internal error", self)
            self.close("amqp:internal-error", f"the emulator failed: {exc!r}")
        finally:
            if keepalive is not None:
                keepalive.cancel()
            for session in self.sessions.values():
                session.release()
            self.sessions.clear()
            self.closing = True
            self.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)
            _LOGGER.debug("%s: closed", self)

    def close(self, condition: str | None = None, description: str | None = None) -> None:
        """Send Close (with an error when given) and let the transport finish writing."""
        if self.closing:
            return
        error = AMQPError(condition=condition, description=description) if condition else None
        if self.opened or error:
            self.send(0, CloseFrame(error=error))
        self.closing = True
        self.writer.close()

    def abort(self) -> None:
        """Drop the TCP connection without any AMQP goodbye (fault injection)."""
        self.closing = True
        self.writer.transport.abort()

    def __str__(self) -> str:
        return f"connection {self.peer} ({self.container_id})"

    # -- handshake --------------------------------------------------------------------------

    async def _negotiate(self) -> None:
        header = await self.reader.readexactly(8)
        if header == codec.SASL_HEADER_FRAME:
            self.write(codec.SASL_HEADER_FRAME)
            self.write(codec.encode_frame(0, SASLMechanism(SASL_MECHANISMS), codec.SASL_FRAME))
            init = await codec.read_frame(self.reader, MAX_FRAME_SIZE)
            if init.frame_type != codec.SASL_FRAME or init.code != 0x41:
                raise ProtocolError("amqp:not-allowed", "expected sasl-init")
            _LOGGER.debug("%s: SASL %s accepted", self, _text(init.fields[0]))
            self.write(
                codec.encode_frame(0, SASLOutcome(code=0, additional_data=None), codec.SASL_FRAME)
            )
            header = await self.reader.readexactly(8)
        if header != codec.HEADER_FRAME:
            self.write(codec.HEADER_FRAME)  # tell the peer what we speak, then hang up
            _LOGGER.warning("%s: unsupported protocol header %r", self, header)
            raise _Closed
        self.write(codec.HEADER_FRAME)

    # -- frames in --------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        if frame.code is None:
            return  # heartbeat
        if frame.frame_type != codec.AMQP_FRAME:
            raise ProtocolError("amqp:connection:framing-error", "SASL frame after negotiation")
        if not self.opened and frame.code != OPEN:
            raise ProtocolError("amqp:illegal-state", "the first frame must be Open")
        if frame.code == OPEN:
            self._on_open(frame)
        elif frame.code == BEGIN:
            self._on_begin(frame)
        elif frame.code == END:
            session = self.sessions.pop(frame.channel, None)
            if session is not None:
                self._ended_channels.add(frame.channel)
                session.end()
        elif frame.code == CLOSE:
            self._on_close(frame)
        else:
            session = self.sessions.get(frame.channel)
            if session is None and frame.channel in self._ended_channels:
                return
            if session is None:
                raise ProtocolError(
                    "amqp:connection:framing-error", f"frame on unmapped channel {frame.channel}"
                )
            session.dispatch(frame)

    def _on_open(self, frame: Frame) -> None:
        if self.opened:
            raise ProtocolError("amqp:illegal-state", "a second Open")
        fields = frame.fields
        self.container_id = _text(fields[0])
        self.remote_max_frame_size = max(512, fields[2] or 0xFFFFFFFF)
        self.remote_idle_timeout = fields[4] / 1000 if fields[4] else None
        self.opened = True
        _LOGGER.info("%s: open", self)
        self.send(
            0,
            OpenFrame(
                container_id=self.broker.container_id,
                hostname=None,
                max_frame_size=MAX_FRAME_SIZE,
                channel_max=CHANNEL_MAX,
                idle_timeout=int(self.idle_timeout * 1000) if self.idle_timeout else None,
                outgoing_locales=None,
                incoming_locales=None,
                offered_capabilities=None,
                desired_capabilities=None,
                properties=None,
            ),
        )

    def _on_begin(self, frame: Frame) -> None:
        if frame.fields[0] is not None:
            raise ProtocolError("amqp:not-allowed", "the emulator never begins sessions")
        if frame.channel in self.sessions or frame.channel > CHANNEL_MAX:
            raise ProtocolError("amqp:connection:framing-error", f"channel {frame.channel} in use")
        used = {session.channel for session in self.sessions.values()}
        channel = next(c for c in range(CHANNEL_MAX + 1) if c not in used)
        session = Session(self, channel, frame.channel, frame.fields)
        self.sessions[frame.channel] = session
        self._ended_channels.discard(frame.channel)
        session.send_begin()

    def _on_close(self, frame: Frame) -> None:
        error = frame.fields[0]
        if error:
            _LOGGER.info("%s: client closed with error %r", self, error)
        else:
            _LOGGER.info("%s: client closed", self)
        self.send(0, CloseFrame(error=None))
        self.closing = True
        self.writer.close()

    # -- frames out -------------------------------------------------------------------------

    def send(self, channel: int, performative: NamedTuple) -> None:
        self.write(codec.encode_frame(channel, performative))

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(data)
        self.last_sent = time.monotonic()

    def call_soon_pump(self, link: OutgoingLink) -> Callable[[], None]:
        """A callback for new events: schedule the link's pump on this loop, errors contained."""
        loop = asyncio.get_running_loop()

        def pump() -> None:
            if link.closed or self.closing:
                return
            try:
                link.pump()
            except Exception as exc:
                _LOGGER.exception("%s: failed to deliver on %r", self, link)
                self.close("amqp:internal-error", f"the emulator failed: {exc!r}")

        return lambda: loop.call_soon(pump)

    async def _keepalive(self) -> None:
        """Enforce our idle timeout and honour the client's with empty frames."""
        while not self.closing:
            periods = [t for t in (self.idle_timeout, self.remote_idle_timeout) if t]
            await asyncio.sleep(max(0.02, min([1.0, *(t / 4 for t in periods)])))
            now = time.monotonic()
            if self.idle_timeout and now - self.last_received > self.idle_timeout:
                _LOGGER.info("%s: idle for %.1fs, closing", self, self.idle_timeout)
                self.close(
                    "amqp:resource-limit-exceeded",
                    f"no frame received within the idle timeout of {self.idle_timeout:g}s",
                )
                return
            remote = self.remote_idle_timeout
            if remote and now - self.last_sent >= remote / 2:
                self.write(codec.EMPTY_FRAME)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)
