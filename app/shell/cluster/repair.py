"""Repair (`serve --repair`): the leader evicts pods an outage left stuck pulling without a
credential that pullpass now adds, so their controllers recreate them through the webhook.

Every replica reads pending pods only (field selector `status.phase=Pending`, the watch it shares
with the missing-credentials detector: `pending.PendingPods`) and keeps a slim copy of those
failing to pull (`core.repair.stuck.slim`), with the moment it first saw each one failing: that is
when `--repair-after` starts. A container's waiting state carries no timestamp, and the pod's
conditions change when it is scheduled, not when a pull fails, so the API server cannot say how
long a pull has failed; a replica's own monotonic clock can, and never evicts early. Followers keep
their clocks running too, so a new leader takes over where the old one was, instead of starting
every clock again.

Only the Lease holder evicts, through the Eviction API (policy/v1), never a delete: a
PodDisruptionBudget's 429 is retried later and costs no token (in practice the API server lets a
Pending pod's eviction through whatever its budget says, since such a pod serves nothing). At
most `--repair-rate` a minute (`core.repair.bucket`). Before each eviction the pod is read again
and judged afresh, and the eviction names its uid, so a pod that recovered or was replaced
meanwhile is left alone. Each eviction gets an Event on the owner, a metric and a log line.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from app.core.repair.bucket import Bucket
from app.core.repair.stuck import Eviction, decide, failing_images, slim
from app.shell.cluster.client import call_json
from app.shell.cluster.events import record_event
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork, Pacing
from app.shell.cluster.pending import PendingPods
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.repair")

# A pass a second, woken by nothing: a pod's clock runs out without an event.
PACING = Pacing(resync=1.0, retry=1.0, burst=0.0, poll=1.0)
RETRY_SECONDS = 10.0  # after a PodDisruptionBudget's 429 or a failed call
REASON = "PullCredentialRepair"


class StuckPods:
    """Pending pods failing to pull, slim, each with when this replica first saw it failing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pods: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}

    @contextmanager
    def relisting(self) -> Iterator[Callable[[dict[str, Any]], None]]:
        """Every pending pod: the failing ones replace those kept, each keeping its clock."""
        with self._lock:
            before, self._pods = self._pods, {}
            yield lambda pod: self._put(slim(pod), before)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            if kind == "DELETED":  # deleted, or no longer Pending
                self._pods.pop(_key(slim(obj)), None)
            else:
                self._put(slim(obj), self._pods)

    def failing(self) -> list[tuple[dict[str, Any], float]]:
        """Longest-failing first."""
        with self._lock:
            return sorted(self._pods.values(), key=lambda entry: entry[1])

    def _put(self, pod: dict[str, Any], before: dict[tuple[str, str], tuple[Any, float]]) -> None:
        key = _key(pod)
        if not failing_images(pod):
            self._pods.pop(key, None)
            return
        seen = before.get(key)
        same = seen is not None and _uid(seen[0]) == _uid(pod)
        self._pods[key] = (pod, seen[1] if seen is not None and same else self._clock())


class Repairer(LeaderWork):
    def __init__(
        self, setup: LeaderSetup, pending: PendingPods, *, after: float, rate: int
    ) -> None:
        super().__init__("repair", setup, PACING, log)
        self.core = client.CoreV1Api(setup.api)
        self.after = after
        self.pods = StuckPods()
        pending.feed(self.pods)
        self.bucket = Bucket.full(rate, time.monotonic())
        self._not_before: dict[str, float] = {}  # pod uid -> when it may be tried (again)
        # The pending pods' first list, too: until then it knows no stuck pod.
        self.listed = lambda: setup.listed() and pending.listed.is_set()

    def reconcile(self) -> int:
        """A pass every tick: clocks run out without any watch event."""
        self.repair_pass(time.monotonic())
        return 0

    def repair_pass(self, now: float) -> None:
        failing = self.pods.failing()
        self._forget(_uid(pod) for pod, _ in failing)
        for pod, since in failing:
            eviction = decide(pod, since, now, self.after, self.index)
            if eviction is None or self._not_before.get(eviction.uid, 0.0) > now:
                continue
            if not self.leading.is_set():
                return
            bucket = self.bucket.take(now)
            if bucket is None:
                return  # the rest wait for the next token, longest-failing first
            outcome = self._evict(eviction, since, now)
            self.bucket = bucket if outcome in ("evicted", "error") else bucket.give_back()
            held = {"evicted": math.inf, "gone": math.inf, "blocked": now + RETRY_SECONDS}
            self._not_before[eviction.uid] = held.get(outcome, now + RETRY_SECONDS)

    def _evict(self, planned: Eviction, since: float, now: float) -> str:
        """Read the pod again, judge it afresh, evict it; the outcome names what happened."""
        try:
            fresh = call_json(self.core.read_namespaced_pod, planned.name, planned.namespace)
            eviction = decide(slim(fresh), since, now, self.after, self.index)
            if eviction is None or eviction.uid != planned.uid:
                return "recovered"
            body = client.V1Eviction(
                metadata=client.V1ObjectMeta(name=eviction.name, namespace=eviction.namespace),
                delete_options=client.V1DeleteOptions(
                    preconditions=client.V1Preconditions(uid=eviction.uid)
                ),
            )
            self.core.create_namespaced_pod_eviction(
                eviction.name, eviction.namespace, body, _preload_content=False
            )
        except client.ApiException as error:
            outcome = {404: "gone", 409: "gone", 429: "blocked"}.get(error.status or 0, "error")
            metrics.REPAIR_EVICTIONS.labels(outcome).inc()
            report = log.info if outcome != "error" else log.warning
            report(
                "pod not evicted",
                extra={"pod": planned.ref, "outcome": outcome, "status": error.status},
            )
            return outcome
        metrics.REPAIR_EVICTIONS.labels("evicted").inc()
        self._report(eviction, now - since)
        return "evicted"

    def _report(self, eviction: Eviction, seconds: float) -> None:
        owner = eviction.owner
        images, added = ", ".join(eviction.images), ", ".join(eviction.add)
        log.info(
            "pod evicted",
            extra={
                "pod": eviction.ref,
                "owner": f"{owner['kind']}/{owner['name']}",
                "images": images,
                "add": added,
                "failing_seconds": round(seconds, 1),
            },
        )
        record_event(
            self.core,
            client.V1ObjectReference(
                api_version=owner["apiVersion"],
                kind=owner["kind"],
                name=owner["name"],
                uid=owner["uid"],
                namespace=eviction.namespace,
            ),
            REASON,
            f"pullpass evicted pod {eviction.name}, failing to pull {images} for "
            f"{seconds:.0f}s without {added}; its replacement gets {added}",
        )

    def _forget(self, uids: Iterable[str]) -> None:
        """Drop the holds of pods no longer failing or pending."""
        live = set(uids)
        self._not_before = {u: t for u, t in self._not_before.items() if u in live}


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    metadata = pod["metadata"]
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _uid(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("uid", ""))
