"""The webhook port's HTTP protocol: uvicorn's httptools protocol, hardened and trimmed.

uvicorn alone lets a slow or idle client hold a connection forever and has no header limit;
its two writes per response cost a TLS record each. These classes fix both, measured in
docs/performance.md and checked by tests/limits.
"""

import asyncio
import contextlib
import logging
import resource
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.shell.web.drain import Drain

log = logging.getLogger("pullpass.http")

# Limits on the webhook port (tests/limits checks each one).
READ_TIMEOUT = 10.0  # seconds from a connection's or a request's first byte to its last
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; the apiserver sends about 1 KiB
KEEP_ALIVE = 30  # idle seconds between requests before the connection is closed
MAX_CONNECTIONS = 2048  # beyond this, requests get a clean 503 (uvicorn's limit_concurrency)


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


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline and a header size limit.

    uvicorn times a connection out only between requests, so a client that connects and sends
    nothing, or a header or a body a byte at a time, would hold its connection slot forever. Here
    each connection notes when its current read began (connect, or a request's first byte) and
    a once-a-second sweep closes those still reading after READ_TIMEOUT. Per request that costs
    two attribute writes, no timer. Headers past MAX_HEADER_BYTES get a 400 and a close.

    Once `drain` has begun, each request is answered with `connection: close`, and uvicorn's
    shutdown closes a connection only when no request is arriving on it (see app/shell/web/drain).
    """

    drain = Drain()  # never begun; `guarded(drain)` gives a server its own
    _read_since: float | None = None  # loop time the unfinished read began; None when idle
    _header_bytes = 0
    _in_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = OneWrite(transport)  # type: ignore[assignment]
        self._read_since = self.loop.time()
        if self.loop not in _SWEEPING:
            _SWEEPING.add(self.loop)
            self.loop.call_later(1.0, _sweep, self.connections, self.loop)

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

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        super().on_headers_complete()
        if self.drain.started:
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


def guarded(drain: Drain) -> type[GuardedProtocol]:
    """The protocol class of one server, whose connections share its drain."""
    return type("GuardedProtocol", (GuardedProtocol,), {"drain": drain})


_SWEEPING: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()


def _sweep(connections: set[Any], loop: asyncio.AbstractEventLoop) -> None:
    """Close connections whose request has been arriving for longer than READ_TIMEOUT."""
    cutoff = loop.time() - READ_TIMEOUT
    for protocol in list(connections):
        since = getattr(protocol, "_read_since", None)
        if since is not None and since < cutoff:
            protocol._read_since = None
            if not protocol.transport.is_closing():
                log.info("closing a connection that did not finish its request in time")
                protocol.transport.close()
    if not loop.is_closed():
        loop.call_later(1.0, _sweep, connections, loop)


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
