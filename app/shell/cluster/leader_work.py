"""Work that only the Lease holder does, and only once the index holds the first full lists:
replicating copies, repairing pods, writing policy parameters.

A follower working would race the leader. Before the first lists the index lacks objects
that exist: the replicator and the policy writer would delete what they do not see, and repair
would judge a pod by a credential not read yet. Each worker is a daemon thread running the one
loop below, `LeaderWork.run`; a worker says only what differs, in `reconcile` (one pass),
`forget` (what it remembers may be stale) and `failed` (a pass raised), and paces the loop
with its `Pacing`.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client

from app.shell.cluster.index import Index


@dataclass(frozen=True, slots=True)
class LeaderSetup:
    """What every worker of the leader is given: `leading` is set while this replica holds the
    Lease, `listed` says whether every first full list is in."""

    api: client.ApiClient
    index: Index
    leading: threading.Event
    listed: Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a worker's loop waits, in seconds.

    `resync`: the longest time between passes when nothing wakes the worker; `retry`: the pause
    after a failed pass, and the longest wait for the Lease at a time; `burst`: the pause before
    a pass, so that a burst of watch events makes one pass; `poll`: how often to look whether the
    first lists are in.
    """

    resync: float
    retry: float
    burst: float
    poll: float


class LeaderWork(threading.Thread):
    """The loop every worker of the leader shares: wait for the Lease, the first lists and a
    reason (a change, a retry, a resync), then one pass. Subclasses override `reconcile`, and
    `forget` or `failed` where they need to."""

    def __init__(
        self,
        name: str,
        setup: LeaderSetup,
        pacing: Pacing,
        log: logging.Logger,
        wake: threading.Event | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.index = setup.index
        self.leading = setup.leading
        self.listed = setup.listed
        self.pacing = pacing
        # Set when a pass is due: by the index on every change, by the loop after a failed pass.
        self.wake = threading.Event() if wake is None else wake
        self.log = log
        self._new_lease = True

    def run(self) -> None:
        while True:
            if self.due():
                self.one_pass()

    def due(self) -> bool:
        """Whether a pass is due now. A new Lease brings one at once; otherwise waits for a
        change up to `resync`. Either starts from what the API server says: `forget`."""
        if not self.ready(self.pacing.retry, self.pacing.poll):
            return False
        if self.took_lease() or not self.wake.wait(self.pacing.resync):
            self.forget()
        # The Lease may have gone while waiting: the next `ready()` notes it.
        return self.leading.is_set()

    def one_pass(self) -> None:
        """One pass; after a failure, the next comes `retry` seconds later, change or not."""
        time.sleep(self.pacing.burst)  # let a burst of watch events land as one pass
        self.wake.clear()
        try:
            failures = self.reconcile()
        except Exception as error:  # the API may be down; the next pass tries again
            self.failed(error)
            failures = 1
        if failures:
            time.sleep(self.pacing.retry)
            self.wake.set()

    def reconcile(self) -> int:
        """One pass; returns how many of its calls failed and are due again."""
        raise NotImplementedError

    def forget(self) -> None:
        """Drop what this worker remembers of the cluster: it may be from before the current
        Lease, when another leader may have written, or older than a resync."""

    def failed(self, error: Exception) -> None:
        """A pass raised: the API server may be down."""
        self.log.warning(
            f"{self.name} pass failed",
            extra={"why": type(error).__name__, "status": getattr(error, "status", None)},
        )

    def ready(self, lease_wait: float = 0.0, lists_wait: float = 0.0) -> bool:
        """Whether this replica may work now. When not, waits up to `lease_wait` for the Lease or
        `lists_wait` for the first lists, so that the caller's loop does not spin."""
        if not self.leading.is_set():
            self._new_lease = True
            self.leading.wait(lease_wait)
            return False
        if not self.listed():
            time.sleep(lists_wait)
            return False
        return True

    def took_lease(self) -> bool:
        """True once after `ready()` first holds under a new Lease (or on the first pass)."""
        new, self._new_lease = self._new_lease, False
        return new
