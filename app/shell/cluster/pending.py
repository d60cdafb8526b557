"""The one list and watch of pending pods (field selector `status.phase=Pending`), shared by the
leader's workers that read them: repair's stuck pods and the missing-credentials detector's new
pods. A second watch of the same pods would double what the API server sends and what every
replica decodes, for nothing.

Each consumer keeps what it needs from the pods; this module only hands every LIST and event to
each of them. A LIST is walked once, each pod handed to every consumer in turn, so one page of
raw pods at a time is held, as with a single consumer.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from typing import Any, Protocol

from kubernetes import client

from app.shell.cluster.reflector import Watcher

PENDING = "status.phase=Pending"

Pod = dict[str, Any]


class Consumer(Protocol):
    """What one reader of the pending pods keeps, fed a LIST pod by pod and then each event."""

    def relisting(self) -> AbstractContextManager[Callable[[Pod], None]]:
        """A LIST: every pending pod goes through the callable, and the list is whole once the
        block ends without an error (a list cut short raises out of it)."""

    def apply(self, kind: str, obj: Pod) -> None:
        """One watch event: ADDED, MODIFIED or DELETED (deleted, or no longer Pending)."""


def fan_out(consumers: Sequence[Consumer]) -> Callable[[str, Any], None]:
    """A Watcher's `apply` that hands each LIST and event to every consumer."""

    def apply(kind: str, obj: Any) -> None:
        if kind != "LIST":
            for consumer in consumers:
                consumer.apply(kind, obj)
            return
        with ExitStack() as stack:
            puts = [stack.enter_context(consumer.relisting()) for consumer in consumers]
            for pod in obj:
                for put in puts:
                    put(pod)

    return apply


class PendingPods(Watcher):
    """The pending pods' reflector, feeding every consumer given to `feed` before `start` (one
    given later would miss the first LIST)."""

    def __init__(self, api: client.ApiClient) -> None:
        self._consumers: list[Consumer] = []
        core = client.CoreV1Api(api)
        super().__init__(
            "pods-pending",
            partial(
                core.list_pod_for_all_namespaces, field_selector=PENDING, _preload_content=False
            ),
            fan_out(self._consumers),
        )

    def feed(self, consumer: Consumer) -> None:
        self._consumers.append(consumer)
