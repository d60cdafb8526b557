"""Events pullpass records on the objects it acts for (core v1), so `kubectl describe` shows them.

An Event that cannot be written is a log line, never a failure of the action it reports.
"""

import datetime
import logging

from kubernetes import client

log = logging.getLogger("pullpass.events")


def record_event(
    core: client.CoreV1Api,
    about: client.V1ObjectReference,
    reason: str,
    message: str,
    kind: str = "Normal",
) -> None:
    """One Event on `about`, in its namespace (`default` for a cluster-scoped object)."""
    namespace = about.namespace or "default"
    now = datetime.datetime.now(datetime.UTC)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(
            generate_name=f"pullpass-{reason.lower()}-", namespace=namespace
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
        log.warning(
            "event not recorded",
            extra={"reason": reason, "status": error.status, "why": error.reason},
        )
