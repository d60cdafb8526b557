"""Leader election on a coordination.k8s.io Lease, with the official client's elector.

`leading` is set only while this replica holds the Lease, so the replicator can check it before
every write; losing the Lease clears it at once, and the elector is started again.
"""

import logging
import threading
import time

from kubernetes import client
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.leader")


class Elector(threading.Thread):
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
    ) -> None:
        super().__init__(name="leader-election", daemon=True)
        self.leading = threading.Event()
        self.identity = identity
        lock = LeaseLock(name, namespace, identity)
        lock.api_instance = client.CoordinationV1Api(api)
        self._config = electionconfig.Config(
            lock,
            lease_duration=lease_seconds,
            renew_deadline=max(2, lease_seconds * 2 // 3),
            retry_period=max(1, lease_seconds // 5),
            onstarted_leading=self._on_started,
            onstopped_leading=self._on_stopped,
        )
        logging.getLogger("leaderelection").setLevel(logging.WARNING)

    def _on_started(self) -> None:
        log.info("leading: this replica replicates and repairs", extra={"identity": self.identity})
        metrics.LEADER.set(1)
        self.leading.set()

    def _on_stopped(self) -> None:
        if self.leading.is_set():
            log.info("no longer leading", extra={"identity": self.identity})
        metrics.LEADER.set(0)
        self.leading.clear()

    def run(self) -> None:
        while True:
            try:
                leaderelection.LeaderElection(self._config).run()
            except Exception as error:  # the API may be down; stand aside and try again
                log.warning("leader election failed", extra={"why": type(error).__name__})
            finally:
                self._on_stopped()
            time.sleep(self._config.retry_period)
