"""The HTTP protocol of both ports: uvicorn's httptools protocol, hardened and trimmed.

uvicorn alone lets a slow or idle client hold a connection forever, refuses new connections
with 503 once idle ones fill its limit, and has no header limit; its two writes per response
cost a TLS record each. These classes fix all of that, measured in docs/performance.md and
checked by tests/limits.

uvicorn private API overridden or read here (tests/unit/test_uvicorn_contract.py checks it):
HttpToolsProtocol.connection_made, .connection_lost, .data_received, .on_message_begin,
.on_headers_complete, .on_message_complete, .on_response_complete, .shutdown,
.send_400_response, and its attributes .loop, .transport, .connections, .cycle, .scope.
"""

import asyncio
import contextlib
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.shell.telemetry import metrics
from app.shell.web.drain import Drain

log = logging.getLogger("pullpass.http")

# Limits on the webhook port (tests/limits checks each one).
READ_TIMEOUT = 10.0  # seconds from a connection's or a request's first byte to its last
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; the apiserver sends about 1 KiB
KEEP_ALIVE = 30  # idle seconds between requests before the connection is closed
MAX_CONNECTIONS = 2048  # default of --max-connections: past it, the longest idle one is closed
BEGAN = "pullpass.began"  # scope["state"] key: time.monotonic() when the request's first byte came


class OneWrite:
    """Hands a response's status line and headers to TLS together with its body.

    uvicorn writes them in two calls, and each write on a TLS transport is its own record and
    usually its own send(2): one write per response measured a few percent more reviews per
    second. A status line is held until the next write (the body, which always follows at once
    on this server); anything else, such as `100 Continue`, goes straight through.
    """

    __slots__ = ("_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1"):
            self._held = data
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


class Guard:
    """What one server's connections share: its drain, and its idle connections, oldest first.

    A connection is idle while no request of its own is being answered: just connected, between
    requests, or still sending headers. Past `limit` connections the oldest of them is closed for
    a new one, so a crowd of idle clients cannot lock the API server out; when every connection
    is busy, the newcomer itself is the one closed.
    """

    __slots__ = ("drain", "idle", "limit", "sweeping")

    def __init__(self, drain: Drain, limit: int = MAX_CONNECTIONS) -> None:
        self.drain = drain
        self.limit = limit
        self.idle: dict[GuardedProtocol, None] = {}  # insertion order is age
        self.sweeping = False


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline, a header limit and a connection cap.

    uvicorn times a connection out only between requests, so a client that connects and sends
    nothing, or a header or a body a byte at a time, would hold its connection slot forever. Here
    each connection notes when its current read began (connect, or a request's first byte) and
    a once-a-second sweep closes those still reading after READ_TIMEOUT. Per request that costs
    two attribute writes and two dict operations, no timer. Headers past MAX_HEADER_BYTES get a
    400 and a close. Connections past the limit close the oldest idle one (see `Guard`).

    Once `drain` has begun, each request is answered with `connection: close`, and uvicorn's
    shutdown closes a connection only when no request is arriving on it (see app/shell/web/drain).
    """

    guard = Guard(Drain())  # never begun; `guarded(drain)` gives a server its own
    _read_since: float | None = None  # loop time the unfinished read began; None when idle
    _header_bytes = 0
    _in_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = OneWrite(transport)  # type: ignore[assignment]
        self._read_since = self.loop.time()
        guard = self.guard
        guard.idle[self] = None
        if len(self.connections) > guard.limit:
            oldest = next(iter(guard.idle))  # this one, when every other connection is busy
            del guard.idle[oldest]
            metrics.CONNECTIONS_CLOSED.labels("idle_evicted").inc()
            log.info("connection limit reached, closing the connection idle the longest")
            oldest.transport.abort()  # a TLS close would wait up to 30 s for the client's reply
        if not guard.sweeping:
            guard.sweeping = True
            self.loop.call_later(1.0, _sweep, self.connections, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.idle.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._in_headers and self._header_bytes > MAX_HEADER_BYTES:
            log.warning("request headers too large, closing", extra={"bytes": self._header_bytes})
            self.send_400_response("Request headers too large.")

    def on_message_begin(self) -> None:
        self._read_since = self.loop.time()
        super().on_message_begin()
        self.scope["state"][BEGAN] = time.monotonic()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        self.guard.idle.pop(self, None)
        super().on_headers_complete()
        if self.guard.drain.started:
            self.cycle.keep_alive = False

    def shutdown(self) -> None:
        # A connection that is new, or on which a request is arriving, is answered first: the
        # request then gets `connection: close`, and the read deadline still bounds the wait.
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._read_since is None or answering:
            super().shutdown()

    def on_message_complete(self) -> None:
        self._read_since = None
        self._in_headers = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # A connection idle after its first answer is uvicorn's keep-alive timer's to close.
        self._read_since = None
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:
            self.guard.idle[self] = None  # the newest idle connection, closed last


def guarded(drain: Drain, limit: int = MAX_CONNECTIONS) -> type[GuardedProtocol]:
    """The protocol class of one server, whose connections share its drain and its cap."""
    return type("GuardedProtocol", (GuardedProtocol,), {"guard": Guard(drain, limit)})


def _sweep(connections: set[Any], loop: asyncio.AbstractEventLoop) -> None:
    """Close connections whose request has been arriving for longer than READ_TIMEOUT."""
    cutoff = loop.time() - READ_TIMEOUT
    for protocol in list(connections):
        since = protocol._read_since
        if since is not None and since < cutoff:
            protocol._read_since = None
            if not protocol.transport.is_closing():
                metrics.CONNECTIONS_CLOSED.labels("read_deadline").inc()
                log.info("closing a connection that did not finish its request in time")
                protocol.transport.abort()
    if not loop.is_closed():
        loop.call_later(1.0, _sweep, connections, loop)


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
