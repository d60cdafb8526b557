"""Work that only the Lease holder does, and only once the index holds the first full lists:
replicating copies, repairing pods, writing policy parameters.

A follower working would race the leader. Before the first full lists the index lacks objects
that exist: the replicator and the policy writer would delete what they do not see, and repair
would judge a pod by a credential not read yet. Each worker is a daemon thread that asks
`ready()` before a pass; `took_lease()` says when what it remembers is from before the current
Lease, when another leader may have written meanwhile.
"""

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


class LeaderWork(threading.Thread):
    def __init__(self, name: str, setup: LeaderSetup) -> None:
        super().__init__(name=name, daemon=True)
        self.index = setup.index
        self.leading = setup.leading
        self.listed = setup.listed
        self._new_lease = True

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
