"""`pullpass serve`: wire the index, its feed, TLS and the HTTP servers together.

In policy mode (`--admission=policy`) there is no HTTPS listener and no certificate: the leader
keeps the MutatingAdmissionPolicies' parameter objects current, and health and metrics stay.
"""

import argparse
import asyncio
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
import uvloop
from kubernetes.client import ApiClient

from app.core.credentials.keyset import KeyCaps
from app.core.readiness import Readiness, draining
from app.shell.cli.settings import scope_settings
from app.shell.cli.usage import UsageError
from app.shell.cluster.client import api_client, own_namespace
from app.shell.cluster.feed import Feed
from app.shell.cluster.index import Index
from app.shell.cluster.leader import Elector
from app.shell.cluster.leader_work import LeaderSetup
from app.shell.cluster.missing import MissingCredentials
from app.shell.cluster.objects import BadInput, load_snapshot
from app.shell.cluster.pending import PendingPods
from app.shell.cluster.policy_writer import PolicyWriter
from app.shell.cluster.repair import Repairer
from app.shell.cluster.replicator import Replicator
from app.shell.cluster.selfcert import SelfManagedCerts
from app.shell.telemetry import logs, metrics
from app.shell.web.credentials import Exchange, cluster_exchange
from app.shell.web.credentials_api import credentials_config
from app.shell.web.drain import Drain
from app.shell.web.listen import Server
from app.shell.web.protocol import KEEP_ALIVE, guarded, raise_open_files_limit
from app.shell.web.server import health_app, webhook_app
from app.shell.web.tls import ReloadingContext

log = logging.getLogger("pullpass")


def key_caps(args: argparse.Namespace) -> KeyCaps:
    return KeyCaps(
        per_secret=args.max_keys_per_secret, total=args.max_keys_total, length=args.max_key_length
    )


def serve(args: argparse.Namespace) -> int:
    logs.setup(args.log_level)
    policy = args.admission == "policy"
    api = None if args.objects else api_client(args.kubeconfig)
    tls = None if policy else _tls(args, api)
    index = Index(scope_settings(args), fixed=api is None, caps=key_caps(args))
    ready: Callable[[], Readiness]
    feed = None
    if api is None:
        _load_objects(args.objects, index)
        loaded = Readiness(True, ("[+]objects ok",))

        def ready() -> Readiness:
            return loaded
    else:
        feed = Feed(api, index)
        feed.start()
        ready = feed.readiness
        if args.replicate or args.repair or args.detect_missing or policy:
            _start_leader_work(args, api, index, feed.listed)
    log.info(
        "starting",
        extra={
            "admission": args.admission,
            "port": None if policy else args.port,
            "metrics_port": args.metrics_port,
            "credentials_namespace": index.settings.credentials_namespace,
            "project_label": index.settings.project_label,
            "source": "objects" if args.objects else "cluster",
            "repair": args.repair,
            "credentials_port": args.credentials_port,
            "detect_missing": args.detect_missing,
        },
    )
    metrics.READY.set_function(lambda: float(ready().ready))
    raise_open_files_limit()
    secretless = None
    if args.credentials_port is not None and api is not None:
        exchange = cluster_exchange(
            api,
            index,
            args.credentials_audience,
            args.credentials_cache_seconds,
            args.unserved_namespaces or (),
        )
        secretless = (exchange, _client_verifying(args))
    # uvloop's event loop and TLS transport roughly double the reviews per second on one core.
    uvloop.run(_run(args, index, tls, ready, secretless))
    if feed is not None:
        feed.stop()
    return 0


def _tls(args: argparse.Namespace, api: ApiClient | None) -> ReloadingContext:
    """The webhook's serving certificate: self-managed, or from files."""
    if args.tls_secret:
        certs = _self_managed_certs(args, api or api_client(args.kubeconfig))
        args.cert_file, args.key_file = certs.cert_file, certs.key_file
    try:
        return ReloadingContext(args.cert_file, args.key_file)
    except (OSError, ValueError) as error:
        raise UsageError(f"pullpass serve: cannot load the serving certificate: {error}") from None


def _client_verifying(args: argparse.Namespace) -> ReloadingContext:
    """Secretless mode's port: the serving certificate, and the kubelet's verified."""
    try:
        return ReloadingContext(args.cert_file, args.key_file, args.client_ca_file)
    except (OSError, ValueError) as error:
        raise UsageError(f"pullpass serve: cannot load --client-ca-file: {error}") from None


def _load_objects(paths: list[str], index: Index) -> None:
    try:
        objects = load_snapshot(paths)
    except BadInput as error:
        raise UsageError(f"pullpass serve: {error}") from None
    objects.fill(index)
    metrics.INDEX_NAMESPACES.set(len(objects.namespaces))
    metrics.INDEX_CREDENTIALS.set(len(objects.credentials))


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
        extra_hosts=args.cert_host or (),
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


def _start_leader_work(
    args: argparse.Namespace, api: ApiClient, index: Index, listed: Callable[[], bool]
) -> None:
    """One Lease elects the replica that replicates, repairs and writes policy parameters."""
    identity = (
        args.identity or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    )
    namespace = args.lease_namespace or own_namespace(args.kubeconfig)
    elector = Elector(api, namespace, args.lease_name, identity, args.lease_duration)
    elector.start()
    for thread in leader_work(args, LeaderSetup(api, index, elector.leading, listed)):
        thread.start()


def leader_work(args: argparse.Namespace, setup: LeaderSetup) -> list[threading.Thread]:
    """The workers the flags ask for, and the one watch of pending pods that repair and the
    missing-credentials detector share, when either is on."""
    work: list[threading.Thread] = []
    if args.replicate:
        work.append(Replicator(setup))
    if args.admission == "policy":
        work.append(PolicyWriter(setup))
    if args.repair or args.detect_missing:
        pending = PendingPods(setup.api)
        if args.repair:
            work.append(Repairer(setup, pending, after=args.repair_after, rate=args.repair_rate))
        if args.detect_missing:
            work.append(MissingCredentials(setup, pending, args.unserved_namespaces or ()))
        work.append(pending)
    return work


async def _run(
    args: argparse.Namespace,
    index: Index,
    tls: ReloadingContext | None,
    ready: Callable[[], Readiness],
    secretless: tuple[Exchange, ReloadingContext] | None = None,
) -> None:
    """Health and metrics always; the HTTPS webhook only in webhook mode (`tls` given); the
    credentials port in secretless mode.

    The first SIGTERM or SIGINT begins the webhook port's drain and fails /readyz; the servers
    stop `--shutdown-delay` seconds later, or at a second signal.
    """
    # Both ports get the same read deadline, keep-alive and connection cap.
    common = {
        "host": args.address,
        "log_config": None,
        "access_log": False,
        "lifespan": "off",
        "timeout_keep_alive": KEEP_ALIVE,
        "backlog": args.max_connections,
    }
    drain = Drain()
    app = health_app(lambda: draining(ready()) if drain.started else ready())
    health = Server(
        uvicorn.Config(
            app,
            port=args.metrics_port,
            http=guarded(Drain(), args.max_connections),
            server_header=False,
            **common,
        )
    )
    servers = [health]
    delay = 0.0
    if tls is not None:
        servers.insert(0, _webhook_server(args, index, tls, drain, common))
        delay = args.shutdown_delay
    contexts = [] if tls is None else [tls]
    if secretless is not None:
        exchange, verifying = secretless
        port = args.credentials_port
        servers.append(Server(credentials_config(exchange, port, verifying.context, common)))
        contexts.append(verifying)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _signalled, loop, drain, delay, servers)
    reloaders = [asyncio.create_task(context.watch()) for context in contexts]
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        for reloader in reloaders:
            reloader.cancel()


def _webhook_server(
    args: argparse.Namespace,
    index: Index,
    tls: ReloadingContext,
    drain: Drain,
    common: dict[str, Any],
) -> Server:
    return Server(
        uvicorn.Config(
            webhook_app(index, late_after=args.webhook_timeout),
            port=args.port,
            ssl_certfile=args.cert_file,
            ssl_context_factory=lambda _config, _default: tls.context,
            http=guarded(drain, args.max_connections),
            proxy_headers=False,  # the apiserver connects directly: no X-Forwarded-* to trust
            server_header=False,
            **common,
        )
    )


def _signalled(
    loop: asyncio.AbstractEventLoop, drain: Drain, delay: float, servers: list[Server]
) -> None:
    if drain.started:
        log.info("stopping at once")
        for server in servers:
            server.should_exit = server.force_exit = True
        return
    log.info("stopping: draining the webhook port", extra={"seconds": delay})
    drain.begin()
    loop.call_later(delay, _stop, servers)


def _stop(servers: list[Server]) -> None:
    log.info("stopping")
    for server in servers:
        server.should_exit = True
