"""Fail-open made visible: the leader reports each new pod admitted without the credentials
pullpass would have added (`--detect-missing`, chart `detectMissing.enabled`).

Every replica reads pending pods (field selector `status.phase=Pending`: a pod is created Pending,
and one that lacks a credential it needs stays Pending, unable to pull; the watch it shares with
repair, `pending.PendingPods`) and keeps only their uids. A pod is new when a watch event adds a
uid not seen, or a relist after a lost watch holds one: those are judged (`core.audit.missing`).
The first list only records what exists: pods older than this replica are the audit's business, not
an alarm. Only the Lease holder judges and reports, so each pod is reported once: a metric, a
Warning Event `PullCredentialsMissing` on the pod, a log line. A follower drops what it saw; pods
created in a leader change's gap (at most a Lease duration) are not judged.

A tenant can keep as many pods Pending as its quota allows, so at most `KNOWN` uids are kept:
past it the longest known is forgotten, never an error. A watch event other than ADDED never
makes a pod new, so a forgotten pod is judged again only when a relist after a lost watch finds
it still Pending, and may then be reported a second time.
"""

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from kubernetes import client

from app.core.audit.missing import Missing, judge
from app.core.repair.stuck import slim
from app.shell.cluster.events import record_event
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork, Pacing
from app.shell.cluster.pending import PendingPods
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.missing")

REASON = "PullCredentialsMissing"
BACKLOG = 10_000  # new pods waiting to be judged; past it the oldest go unjudged
KNOWN = 50_000  # pending pods' uids kept (about 9 MB); past it the longest known is forgotten
PACING = Pacing(resync=300.0, retry=2.0, burst=0.05, poll=0.1)


class NewPods:
    """The uids of the pending pods (the latest `known` of them), and the new pods (slim) waiting
    to be judged."""

    def __init__(self, backlog: int = BACKLOG, known: int = KNOWN) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[str, None] = OrderedDict()  # oldest first
        self._cap = known
        self._listed = False
        self._new: deque[dict[str, Any]] = deque(maxlen=backlog)
        self.arrived = threading.Event()

    @contextmanager
    def relisting(self) -> Iterator[Callable[[dict[str, Any]], None]]:
        """Every pending pod: after the first list, those not known are new, created while the
        watch was lost."""
        with self._lock:
            before, self._known = self._known, OrderedDict()
            yield partial(self._listed_pod, before)
            self._listed = True

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            if kind == "DELETED":  # deleted, or no longer Pending
                self._known.pop(_uid(obj), None)
            elif _uid(obj) not in self._known:
                self._remember(_uid(obj))
                if kind == "ADDED":
                    self._queue(obj)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            new, self._new = list(self._new), deque(maxlen=self._new.maxlen)
            self.arrived.clear()
            return new

    def _listed_pod(self, before: Collection[str], pod: dict[str, Any]) -> None:
        uid = _uid(pod)
        self._remember(uid)
        if self._listed and uid not in before:
            self._queue(pod)

    def _remember(self, uid: str) -> None:
        self._known[uid] = None
        if len(self._known) > self._cap:
            self._known.popitem(last=False)  # the longest known

    def _queue(self, pod: dict[str, Any]) -> None:
        self._new.append(slim(pod))
        self.arrived.set()


class MissingCredentials(LeaderWork):
    def __init__(self, setup: LeaderSetup, pending: PendingPods, unserved: Collection[str]) -> None:
        self.pods = NewPods()
        super().__init__("missing", setup, PACING, log, wake=self.pods.arrived)
        self.core = client.CoreV1Api(setup.api)
        self.unserved = frozenset(unserved)
        pending.feed(self.pods)

    def forget(self) -> None:
        """A new Lease: what arrived while another replica led was that leader's to judge."""
        self.pods.take()

    def reconcile(self) -> int:
        for pod in self.pods.take():
            found = judge(pod, self.index, self.unserved)
            if found is not None:
                self._report(found)
        return 0  # an Event that cannot be written is a log line, not a retry

    def _report(self, found: Missing) -> None:
        metrics.PODS_MISSING_CREDENTIALS.inc()
        added = ", ".join(found.add)
        log.warning("pod admitted without credentials", extra={"pod": found.ref, "add": added})
        record_event(
            self.core,
            client.V1ObjectReference(
                api_version="v1",
                kind="Pod",
                name=found.name,
                namespace=found.namespace,
                uid=found.uid,
            ),
            REASON,
            f"admitted without {added}, which pullpass adds to pods like it (the webhook failed "
            "open or was bypassed); recreate the pod to get them",
            "Warning",
        )


def _uid(pod: Any) -> str:
    metadata = pod.get("metadata") if isinstance(pod, dict) else None
    return str(metadata.get("uid", "")) if isinstance(metadata, dict) else ""
