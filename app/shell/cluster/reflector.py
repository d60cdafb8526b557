"""A reflector: list one kind of object, then watch it from the list's resourceVersion.

Generic, as client-go's reflector is: it knows pages, resourceVersions, 410 Gone, backoff and
readiness, and hands each LIST (an iterator of raw objects) or event to an `apply` callback that
knows what the objects mean (`feed.Feed` for the index, `repair` for pending pods). Runs on a
thread with the official client, reading raw JSON (orjson) instead of building a model object
per object, which keeps start-up fast on large clusters.

A 410 Gone, or a watch silent for `SILENT_SECONDS` (the API server sends a bookmark at least
every minute, so silence means a stalled stream), means a fresh list at once; a lost list or
watch, a fresh list after a short jittered wait (`retry_delay`), so the store is current again
within a second or two of the API server's return. Meanwhile what was last seen is kept and
served: a lost watch is a metric, a log line and a line of `/readyz?verbose` (`readiness`), not a
readiness failure.
"""

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from kubernetes.watch.watch import iter_resp_lines
from urllib3.exceptions import ReadTimeoutError

from app.core.readiness import Readiness, WatchState, readiness
from app.core.retry import retry_delay
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.watch")

# Small pages: any tenant may create Secrets of 1 MiB, and a page is held whole while it is read.
PAGE = 50
WATCH_SECONDS = 240
SILENT_SECONDS = 90
# Metadata only: a list and a watch each need their own media type, or the server sends nothing.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
# A list page read that hangs (a half-open connection) must fail, or it would never be retried.
LIST_TIMEOUT = (10, 60)


class Gone(Exception):
    """The resourceVersion is too old: only a new list can catch up."""


class Silent(Exception):
    """No event and no bookmark for `SILENT_SECONDS`: the stream may have missed events, so only
    a new list can be trusted."""


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
            except Silent:
                log.warning("watch silent, listing again", extra={"resource": self.resource})
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
                _request_timeout=(10, SILENT_SECONDS),
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
            except ReadTimeoutError:
                raise Silent from None
            finally:
                response.release_conn()
            metrics.WATCH_RESTARTS.labels(self.resource).inc()


def readiness_of(watchers: Iterable[Watcher]) -> Readiness:
    return readiness((w.state() for w in watchers), time.time())


def metadata_only(call: Callable[..., Any], **params: Any) -> Any:
    """A list or watch of PartialObjectMetadata: names and labels, never data."""
    accept = METADATA_WATCH if params.get("watch") else METADATA_LIST
    return call(_preload_content=False, _headers={"Accept": accept}, **params)


def _events(response: Any) -> Iterator[dict[str, Any]]:
    for line in iter_resp_lines(response):
        yield orjson.loads(line)
