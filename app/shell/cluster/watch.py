"""Feed the index from the API server: list, then watch from the list's resourceVersion.

Runs on threads with the official client, reading raw JSON (orjson) instead of building a
model object per Secret, which keeps start-up fast on large clusters. A 410 Gone means a fresh
list at once; a lost list or watch, a fresh list after a short jittered wait (`retry_delay`), so
the index is current again within a second or two of the API server's return. Meanwhile the
index stays as it was last seen and is served: a lost watch is a metric, a log line and a line
of `/readyz?verbose` (`readiness`), not a readiness failure.
"""

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import orjson
from kubernetes import client
from kubernetes.watch.watch import iter_resp_lines

from app.core import labels
from app.core.credentials.credential import (
    CREDENTIAL_TYPES,
    credential_from_secret,
    namespace_from_object,
)
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.scope import claims_scope
from app.core.credentials.serviceaccount import service_account_from_object
from app.core.readiness import Readiness, WatchState, readiness
from app.core.retry import retry_delay
from app.shell.cluster.index import Index
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.watch")

PAGE = 1000
WATCH_SECONDS = 240
# Metadata only: a list and a watch each need their own media type, or the server sends nothing.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
# A list page read that hangs (a half-open connection) must fail, or it would never be retried.
LIST_TIMEOUT = (10, 60)
OTHER_TYPES = ",".join(f"type!={t}" for t in CREDENTIAL_TYPES)
OTHER = "other"


class Gone(Exception):
    """The resourceVersion is too old: only a new list can catch up."""


class Watcher(threading.Thread):
    """One list-and-watch loop for one kind of object, and what it reports of its sync."""

    def __init__(self, resource: str, call: Callable[..., Any], apply: Callable[..., None]) -> None:
        super().__init__(name=f"watch-{resource}", daemon=True)
        self.resource = resource
        self._call = call
        self._apply = apply
        self.listed = threading.Event()  # set once, after the first full list is applied
        self.stopping = threading.Event()
        self.in_sync = False
        self.synced_at = 0.0
        self.why = ""
        self._failures = 0
        self._in_sync_metric = metrics.WATCH_IN_SYNC.labels(resource)
        self._synced_metric = metrics.WATCH_LAST_SYNC.labels(resource)
        self._in_sync_metric.set(0)

    def state(self) -> WatchState:
        return WatchState(
            self.resource, self.listed.is_set(), self.in_sync, self.synced_at, self.why
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.listed.is_set():
                    metrics.RELISTS.labels(self.resource).inc()
                version = self._list()
                self._synced()
                self.listed.set()
                self._watch(version)
            except Gone:
                log.info("watch expired, listing again", extra={"resource": self.resource})
            except Exception as error:  # every failure ends in a relist; the loop must survive
                self._failures += 1
                delay = retry_delay(self._failures, random.random())  # noqa: S311
                self._lost(type(error).__name__, delay)
                self.stopping.wait(delay)

    def _synced(self) -> None:
        """The index holds what the API server holds, as of now."""
        self.synced_at = time.time()
        self._synced_metric.set(self.synced_at)
        if not self.in_sync:
            if self.why:
                log.info("watch in sync again", extra={"resource": self.resource})
            self.in_sync = True
            self.why = ""
            self._in_sync_metric.set(1)

    def _lost(self, why: str, delay: float) -> None:
        """Logged once per outage as a warning; every retry after that only at debug level."""
        extra = {"resource": self.resource, "why": why, "retry_in": round(delay, 3)}
        if not self.listed.is_set() and not self.why:
            log.warning("first list failed, retrying", extra=extra)
        elif self.in_sync:
            log.warning("watch lost, serving the last good index", extra=extra)
        else:
            log.debug("list or watch failed again, retrying", extra=extra)
        self.in_sync = False
        self.why = why
        self._in_sync_metric.set(0)

    def _list(self) -> str:
        """Pages are handed over one at a time, so only one page of raw objects is ever held."""
        version = ""

        def items() -> Iterator[dict[str, Any]]:
            nonlocal version
            token = None
            while True:
                answer = self._call(limit=PAGE, _continue=token, _request_timeout=LIST_TIMEOUT)
                page = orjson.loads(answer.data)
                yield from page.get("items") or ()
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    version = str(page["metadata"]["resourceVersion"])
                    return

        self._apply("LIST", items())
        return version

    def _watch(self, version: str) -> None:
        while not self.stopping.is_set():
            response = self._call(
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _request_timeout=(10, WATCH_SECONDS + 30),
            )
            self._failures = 0  # a list and a watch that answers: the API server is back
            self._synced()
            try:
                for event in _events(response):
                    obj = event.get("object") or {}
                    kind = event.get("type")
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise Gone
                        raise RuntimeError(f"watch error {obj.get('code')}")
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if kind != "BOOKMARK":
                        self._apply(kind, obj)
                    self._synced()
            finally:
                response.release_conn()
            metrics.WATCH_RESTARTS.labels(self.resource).inc()


def readiness_of(watchers: Iterable[Watcher]) -> Readiness:
    return readiness((w.state() for w in watchers), time.time())


def _metadata_only(call: Callable[..., Any], **params: Any) -> Any:
    accept = METADATA_WATCH if params.get("watch") else METADATA_LIST
    return call(_preload_content=False, _headers={"Accept": accept}, **params)


def _managed(obj: dict[str, Any]) -> bool:
    return bool((obj["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.PULLPASS)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta["namespace"], meta["name"]


def _events(response: Any) -> Iterator[dict[str, Any]]:
    for line in iter_resp_lines(response):
        yield orjson.loads(line)


class Feed:
    """The watchers that keep one index current, and their readiness."""

    def __init__(self, api: client.ApiClient, index: Index) -> None:
        self.index = index
        core = client.CoreV1Api(api)
        self._reported: set[str] = set()
        secrets = core.list_secret_for_all_namespaces
        self.watchers = [
            Watcher(
                "namespaces", partial(core.list_namespace, _preload_content=False), self._namespace
            ),
            *(
                Watcher(
                    secret_type.split("/")[-1],
                    partial(secrets, field_selector=f"type={secret_type}", _preload_content=False),
                    self._secrets_of(secret_type),
                )
                for secret_type in CREDENTIAL_TYPES
            ),
            # Names only, of every other Secret: a copy must never take a name held by a Secret
            # that pullpass does not manage, registry credential or not. The typed watchers
            # report the credentials' names, so those are not fetched twice.
            Watcher(
                "secret-names",
                partial(_metadata_only, secrets, field_selector=OTHER_TYPES),
                self._names,
            ),
            # Which pull secrets a strict ServiceAccount allows (admission must respect it).
            Watcher(
                "serviceaccounts",
                partial(core.list_service_account_for_all_namespaces, _preload_content=False),
                self._service_account,
            ),
        ]

    def start(self) -> None:
        for watcher in self.watchers:
            watcher.start()

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stopping.set()

    def listed(self) -> bool:
        """Every watcher's first full list is in the index."""
        return all(w.listed.is_set() for w in self.watchers)

    def readiness(self) -> Readiness:
        return readiness_of(self.watchers)

    def _namespace(self, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_namespaces(namespace_from_object(o) for o in obj)
        elif kind == "DELETED":
            self.index.delete_namespace(obj["metadata"]["name"])
        else:
            self.index.put_namespace(namespace_from_object(obj))
        self._sizes()

    def _service_account(self, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_service_accounts(service_account_from_object(o) for o in obj)
        elif kind == "DELETED":
            self.index.delete_service_account(*_key(obj))
        else:
            self.index.put_service_account(service_account_from_object(obj))

    def _names(self, kind: str, obj: Any) -> None:
        self._hold(OTHER, kind, obj)

    def _hold(self, group: str, kind: str, obj: Any) -> None:
        if kind == "LIST":
            self.index.replace_held(group, (_key(o) for o in obj if not _managed(o)))
        else:
            self.index.hold(group, *_key(obj), kind != "DELETED" and not _managed(obj))

    def _secrets_of(self, secret_type: str) -> Callable[[str, Any], None]:
        def apply(kind: str, obj: Any) -> None:
            if kind == "LIST":
                credentials, unreadable = [], []
                for o in obj:
                    credential = self._credential(o)
                    if credential is not None:
                        credentials.append(credential)
                    elif not _managed(o):
                        # Still holds its name against copies; only the name is kept, not the data.
                        unreadable.append(_key(o))
                self.index.replace_credentials(secret_type, credentials)
                self.index.replace_held(secret_type, unreadable)
            else:
                credential = None if kind == "DELETED" else self._credential(obj)
                if credential is None:
                    self.index.delete_credential(*_key(obj))
                    self._hold(secret_type, kind, obj)
                else:
                    self.index.put_credential(credential)
                    self.index.hold(secret_type, *_key(obj), False)
            self._sizes()

        return apply

    def _credential(self, obj: dict[str, Any]) -> Any:
        ref = f"{obj['metadata'].get('namespace')}/{obj['metadata'].get('name')}"
        try:
            credential = credential_from_secret(obj)
        except BadDockerConfig as error:
            self._report_once(ref, "registry credential ignored: unreadable data", str(error))
            return None
        if (
            credential is not None
            and credential.namespace != self.index.settings.credentials_namespace
            and claims_scope(credential)
            and not credential.managed
        ):
            self._report_once(
                ref, "source labels ignored outside the credentials namespace", "not a source"
            )
        return credential

    def _report_once(self, ref: str, message: str, why: str) -> None:
        if ref not in self._reported:
            self._reported.add(ref)
            log.warning(message, extra={"secret": ref, "why": why})

    def _sizes(self) -> None:
        namespaces, credentials = self.index.sizes()
        metrics.INDEX_NAMESPACES.set(namespaces)
        metrics.INDEX_CREDENTIALS.set(credentials)
