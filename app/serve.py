"""`pullpass serve`: wire the index, its feed, TLS and the two HTTP servers together."""

import argparse
import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
import uvloop
from kubernetes.client import ApiClient
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app import logs, metrics
from app.cli import UsageError
from app.index import Index
from app.kube import api_client, own_namespace
from app.leader import Elector
from app.objects import BadInput, load_objects
from app.replicator import Replicator
from app.scope import ScopeSettings
from app.selfcert import SelfManagedCerts
from app.server import health_app, webhook_app
from app.tls import ReloadingContext
from app.watch import Feed

log = logging.getLogger("pullpass")

# Limits on the webhook port (tests/limits checks each one).
READ_TIMEOUT = 10.0  # seconds from a connection's or a request's first byte to its last
MAX_HEADER_BYTES = 64 * 1024  # request line and headers; the apiserver sends about 1 KiB
KEEP_ALIVE = 30  # idle seconds between requests before the connection is closed
MAX_CONNECTIONS = 2048  # beyond this, requests get a clean 503 (uvicorn's limit_concurrency)


class _Server(uvicorn.Server):
    """Signals are handled once for both servers, in `serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _OneWrite:
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


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline and a header size limit.

    uvicorn times a connection out only between requests, so a client that connects and sends
    nothing, or a header or a body a byte at a time, would hold its connection slot forever. Here
    each connection notes when its current read began (connect, or a request's first byte) and
    a once-a-second sweep closes those still reading after READ_TIMEOUT. Per request that costs
    two attribute writes, no timer. Headers past MAX_HEADER_BYTES get a 400 and a close.
    """

    _read_since: float | None = None  # loop time the unfinished read began; None when idle
    _header_bytes = 0
    _in_headers = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _OneWrite(transport)  # type: ignore[assignment]
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

    def on_message_complete(self) -> None:
        self._read_since = None
        self._in_headers = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # A connection idle after its first answer is uvicorn's keep-alive timer's to close.
        self._read_since = None
        super().on_response_complete()


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


def _raise_open_files_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit permits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def scope_settings(args: argparse.Namespace) -> ScopeSettings:
    namespace = args.credentials_namespace or (
        "default" if getattr(args, "objects", None) else own_namespace(args.kubeconfig)
    )
    return ScopeSettings(credentials_namespace=namespace, project_label=args.project_label)


def serve(args: argparse.Namespace) -> int:
    logs.setup(args.log_level)
    api = None if args.objects else api_client(args.kubeconfig)
    if args.tls_secret:
        certs = _self_managed_certs(args, api or api_client(args.kubeconfig))
        args.cert_file, args.key_file = certs.cert_file, certs.key_file
    if not args.cert_file or not args.key_file:
        raise UsageError("pullpass serve: --cert-file and --key-file are required")
    try:
        tls = ReloadingContext(args.cert_file, args.key_file)
    except (OSError, ValueError) as error:
        raise UsageError(f"pullpass serve: cannot load the serving certificate: {error}") from None
    index = Index(scope_settings(args))
    ready: Callable[[], bool]
    feed = None
    if api is None:
        _load_objects(args.objects, index)

        def ready() -> bool:
            return True
    else:
        feed = Feed(api, index)
        feed.start()
        ready = feed.ready
        if args.replicate:
            _start_replication(args, api, index)
    log.info(
        "starting",
        extra={
            "port": args.port,
            "metrics_port": args.metrics_port,
            "credentials_namespace": index.settings.credentials_namespace,
            "project_label": index.settings.project_label,
            "source": "objects" if args.objects else "cluster",
        },
    )
    _raise_open_files_limit()
    # uvloop's event loop and TLS transport roughly double the reviews per second on one core.
    uvloop.run(_run(args, index, tls, ready))
    if feed is not None:
        feed.stop()
    return 0


def _load_objects(paths: list[str], index: Index) -> None:
    try:
        namespaces, credentials = load_objects(paths)
    except BadInput as error:
        raise UsageError(f"pullpass serve: {error}") from None
    index.replace_namespaces(namespaces)
    for credential in credentials:
        index.put_credential(credential)
    metrics.INDEX_NAMESPACES.set(len(namespaces))
    metrics.INDEX_CREDENTIALS.set(len(credentials))


def _self_managed_certs(args: argparse.Namespace, api: ApiClient) -> SelfManagedCerts:
    """First certificate before serving; a thread keeps it current afterwards."""
    certs = SelfManagedCerts(
        api,
        namespace=own_namespace(args.kubeconfig),
        secret=args.tls_secret,
        webhook_config=args.webhook_config,
        service=args.service,
        cert_dir=args.cert_dir or tempfile.mkdtemp(prefix="pullpass-certs-"),
        days=args.cert_days,
        interval=args.cert_check_interval,
    )
    delay = 0.5
    while True:
        try:
            certs.ensure()
            break
        except Exception as error:  # the API may not be reachable yet: wait, as a pod would
            log.warning("first certificate failed, retrying", extra={"why": str(error)[:200]})
            time.sleep(delay)
            delay = min(delay * 2, 15)
    certs.start()
    return certs


def _start_replication(args: argparse.Namespace, api: ApiClient, index: Index) -> None:
    identity = (
        args.identity or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    )
    namespace = args.lease_namespace or own_namespace(args.kubeconfig)
    elector = Elector(api, namespace, args.lease_name, identity, args.lease_duration)
    elector.start()
    Replicator(api, index, elector.leading).start()


async def _run(
    args: argparse.Namespace, index: Index, tls: ReloadingContext, ready: Callable[[], bool]
) -> None:
    common = {"host": args.address, "log_config": None, "access_log": False, "lifespan": "off"}
    webhook = _Server(
        uvicorn.Config(
            webhook_app(index),
            port=args.port,
            ssl_certfile=args.cert_file,
            ssl_context_factory=lambda _config, _default: tls.context,
            http=_GuardedProtocol,
            timeout_keep_alive=KEEP_ALIVE,
            limit_concurrency=MAX_CONNECTIONS,
            backlog=MAX_CONNECTIONS,
            proxy_headers=False,  # the apiserver connects directly: no X-Forwarded-* to trust
            server_header=False,
            **common,
        )
    )
    health = _Server(uvicorn.Config(health_app(ready), port=args.metrics_port, **common))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop, webhook, health)
    reloader = asyncio.create_task(tls.watch())
    try:
        await asyncio.gather(webhook.serve(), health.serve())
    finally:
        reloader.cancel()


def _stop(*servers: uvicorn.Server) -> None:
    log.info("stopping")
    for server in servers:
        server.should_exit = True
