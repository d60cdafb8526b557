"""Events pullpass records on the objects it acts for (core v1), so `kubectl describe` shows them.

An Event that cannot be written is a log line, never a failure of the action it reports.
"""

import datetime
import logging
import queue
import threading

from kubernetes import client

log = logging.getLogger("pullpass.events")


def record_event(
    core: client.CoreV1Api,
    about: client.V1ObjectReference,
    reason: str,
    message: str,
    kind: str = "Normal",
    *,
    name: str | None = None,
) -> None:
    """One Event on `about`, in its namespace (`default` for a cluster-scoped object).

    A fixed `name` makes the Event once per cluster: the replica that finds it already written
    (409) has nothing to do.
    """
    namespace = about.namespace or "default"
    now = datetime.datetime.now(datetime.UTC)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(
            name=name,
            generate_name=None if name else f"pullpass-{reason.lower()}-",
            namespace=namespace,
        ),
        involved_object=about,
        reason=reason,
        message=message,
        type=kind,
        source=client.V1EventSource(component="pullpass"),
        first_timestamp=now,
        last_timestamp=now,
        count=1,
    )
    try:
        core.create_namespaced_event(namespace, event)
    except client.ApiException as error:
        if name and error.status == 409:
            return
        log.warning(
            "event not recorded",
            extra={"reason": reason, "status": error.status, "why": error.reason},
        )


class EventWriter(threading.Thread):
    """Events written on a thread of their own, so a watch thread never waits on the API server.

    At most `WAITING` Events wait; past that, new ones are dropped (and logged at debug level):
    a flood of tenant objects must not grow memory or delay the index.
    """

    WAITING = 256

    def __init__(self, core: client.CoreV1Api) -> None:
        super().__init__(name="events", daemon=True)
        self._core = core
        self._queue: queue.Queue[tuple[client.V1ObjectReference, str, str, str, str]] = queue.Queue(
            self.WAITING
        )

    def record(self, about: client.V1ObjectReference, reason: str, message: str, name: str) -> None:
        """A Warning Event, written once per cluster under `name`."""
        try:
            self._queue.put_nowait((about, reason, message, "Warning", name))
        except queue.Full:
            log.debug("event dropped: too many waiting", extra={"reason": reason})

    def run(self) -> None:
        while True:
            about, reason, message, kind, name = self._queue.get()
            record_event(self._core, about, reason, message, kind, name=name)
