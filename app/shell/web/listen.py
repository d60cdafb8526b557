"""Listening: a uvicorn server whose TLS handshakes are timed and counted before HTTP begins.

uvicorn hands the SSL context to `create_server`, where a handshake may take 60 s and nothing
counts the connections still in one: thousands of clients that stop halfway through their
ClientHello hold memory and file descriptors for a minute each. Here the listener accepts plain
TCP and each accepted connection is handed to the loop's own TLS protocol, as `create_server`
would, but with HANDSHAKE_TIMEOUT and at most MAX_HANDSHAKING waiting: past that the oldest
waiting one is closed. Only a finished handshake makes an HTTP connection, which the protocol's
own limits then govern.

uvicorn and uvloop API overridden or used here (tests/unit/test_uvicorn_contract.py checks it):
uvicorn Server.startup, Server.capture_signals, and Server.config, .lifespan, .server_state,
.servers, .started; Config.http_protocol_class, .ssl, .host, .port, .backlog; LifespanOff.state;
uvloop.loop.SSLProtocol(loop, app_protocol, sslcontext, waiter, server_side, server_hostname,
ssl_handshake_timeout=), the class uvloop's own TLS server uses.
"""

import asyncio
import contextlib
import logging
import ssl
import sys
from collections.abc import Callable, Iterator

import uvicorn
import uvloop.loop

from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.http")

HANDSHAKE_TIMEOUT = 10.0  # seconds from accept to a finished TLS handshake, as READ_TIMEOUT
MAX_HANDSHAKING = 1024  # connections still in their handshake; past this the oldest is closed

_SSLProtocol: Callable[..., asyncio.BufferedProtocol] = uvloop.loop.SSLProtocol  # type: ignore[attr-defined]


class Handshaking(asyncio.Protocol):
    """An accepted TCP connection: hands itself to TLS at once, and is counted until TLS is up.

    The TLS protocol is swapped in inside `connection_made`, before the loop starts reading, so
    the ClientHello goes straight to it; its `call_connection_made` gives the HTTP protocol the
    connection once the handshake is done.
    """

    __slots__ = ("gate", "transport")

    def __init__(self, gate: "TlsGate") -> None:
        self.gate = gate
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        gate = self.gate
        waiter = gate.loop.create_future()
        waiter.add_done_callback(lambda done: gate.handshaken(self, done))
        tls = _SSLProtocol(
            gate.loop,
            gate.app(),
            gate.context,
            waiter,
            server_side=True,
            server_hostname=None,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
        )
        transport.set_protocol(tls)
        tls.connection_made(transport)
        gate.admit(self)


class TlsGate:
    """The listener's protocol factory: one `Handshaking` per accepted connection."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        context: ssl.SSLContext,
        app: Callable[[], asyncio.Protocol],
    ) -> None:
        self.loop = loop
        self.context = context
        self.app = app
        self.waiting: dict[Handshaking, None] = {}  # insertion order is age

    def __call__(self) -> Handshaking:
        return Handshaking(self)

    def admit(self, connection: Handshaking) -> None:
        self.waiting[connection] = None
        if len(self.waiting) > MAX_HANDSHAKING:
            oldest = next(iter(self.waiting))
            del self.waiting[oldest]
            metrics.CONNECTIONS_CLOSED.labels("handshake_evicted").inc()
            log.info("too many TLS handshakes at once, closing the oldest")
            assert oldest.transport is not None
            oldest.transport.abort()

    def handshaken(self, connection: Handshaking, waiter: "asyncio.Future[None]") -> None:
        """The handshake finished, failed, timed out, or its connection was closed (an evicted
        one is counted once, as evicted)."""
        evicted = connection not in self.waiting
        self.waiting.pop(connection, None)
        error = None if waiter.cancelled() else waiter.exception()
        if error is not None and not evicted:
            metrics.CONNECTIONS_CLOSED.labels("handshake_failed").inc()
            log.info("TLS handshake failed", extra={"why": type(error).__name__})


class Server(uvicorn.Server):
    """uvicorn's server listening through a `TlsGate` when it has a certificate.

    Signals are handled once for both servers, in `pullpass serve`.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """uvicorn's startup for one host and port, with TLS begun by the gate."""
        await self.lifespan.startup()
        config = self.config
        loop = asyncio.get_running_loop()

        def app() -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )
            return protocol

        factory = app if config.ssl is None else TlsGate(loop, config.ssl, app)
        try:
            server = await loop.create_server(
                factory, host=config.host, port=config.port, backlog=config.backlog
            )
        except OSError as error:
            log.error("cannot listen", extra={"port": config.port, "why": str(error)})
            sys.exit(3)  # uvicorn's STARTUP_FAILURE
        self.servers = [server]
        self.started = True
