"""Keeps policy mode's parameter objects equal to what the index says, on the leader only.

The specs come from `app.core.policy.parameters.desired`, over the same resolutions the webhook
serves from, so both modes decide alike. A pass compares them with the objects as last listed
(on leading, every resync, after an error) or written, and writes only the differences: an
object already equal to its spec is never written again, by a restarted replica or a new leader
either. No credential data is read: only registry keys,
which the index already holds.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from kubernetes import client

from app.core import labels
from app.core.policy.manifests import GROUP, KIND, PLURAL, VERSION, parameter_object
from app.core.policy.parameters import Spec, desired
from app.shell.cluster.client import call_json
from app.shell.cluster.index import Index
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.policy")

RESYNC_SECONDS = 300.0
RETRY_SECONDS = 1.0
BURST_SECONDS = 0.05
WRITERS = 8

Key = tuple[str, str]


def wanted(index: Index) -> dict[Key, Spec]:
    """The parameter specs the index calls for, by (namespace, name)."""
    resolutions = {n.name: index.resolution(n) for n in index.namespaces() if n.enabled}
    return desired(resolutions, index.credentials(), index.settings)


class PolicyWriter(threading.Thread):
    def __init__(
        self,
        api: client.ApiClient,
        index: Index,
        leading: threading.Event,
        listed: Callable[[], bool],
    ) -> None:
        super().__init__(name="policy-writer", daemon=True)
        self.custom = client.CustomObjectsApi(api)
        self.index = index
        self.leading = leading
        # Until the first full lists are in, the index would call for deleting what it lacks.
        self.listed = listed
        self.changed = index.subscribe()
        self._pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="parameters")
        # The objects as last listed or written; None: list them on the next pass.
        self._known: dict[Key, dict[str, Any]] | None = None

    def run(self) -> None:
        was_leading = False
        while True:
            if not self.leading.wait(RETRY_SECONDS):
                was_leading = False
                continue
            if not self.listed():
                time.sleep(BURST_SECONDS)
                continue
            # A new leader, and every resync, lists the objects again (edits by hand included).
            if not was_leading or not self.changed.wait(RESYNC_SECONDS):
                self._known = None
            was_leading = True
            time.sleep(BURST_SECONDS)  # let a burst of watch events land as one pass
            self.changed.clear()
            try:
                self.reconcile()
            except Exception as error:  # the API may be down; the next pass tries again
                self._known = None
                metrics.PARAMETER_WRITES.labels("failed").inc()
                log.warning(
                    "parameter pass failed",
                    extra={"why": type(error).__name__, "status": getattr(error, "status", None)},
                )
                time.sleep(RETRY_SECONDS)
                self.changed.set()

    def reconcile(self) -> int:
        """One pass; returns how many objects it wrote or deleted.

        The writes go out in parallel: a new cluster source changes every namespace object. The
        objects are listed only when nothing is known of them (first pass, resync, an error):
        otherwise a pass reads nothing but the index.
        """
        want = wanted(self.index)
        have = self._known if self._known is not None else self._existing()
        self._known = None  # until this pass has succeeded
        jobs: list[Callable[[], None]] = [
            partial(self._write, have, (namespace, name), spec)
            for (namespace, name), spec in want.items()
            if have.get((namespace, name), {}).get("spec") != spec
        ]
        jobs += [partial(self._delete, have, key) for key in list(have) if key not in want]
        list(self._pool.map(lambda job: job(), jobs))  # the first error fails the pass
        self._known = have
        log.debug("parameter pass", extra={"objects": len(want), "writes": len(jobs)})
        return len(jobs)

    def _write(self, have: dict[Key, dict[str, Any]], key: Key, spec: Spec) -> None:
        """Create or replace one object, and remember what the API server stored."""
        if not self.leading.is_set():
            return
        namespace, name = key
        body = parameter_object(namespace, name, spec)
        current = have.get(key)
        if current is None:
            try:
                stored = call_json(
                    self.custom.create_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    body,
                )
            except client.ApiException as error:
                if not _going(error):
                    raise
                return  # the namespace is being deleted: its watch event comes next
            action = "created"
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            stored = call_json(
                self.custom.replace_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body,
            )
            action = "updated"
        have[key] = stored
        metrics.PARAMETER_WRITES.labels(action).inc()
        log.info(f"parameters {action}", extra={"object": f"{namespace}/{name}"})

    def _existing(self) -> dict[Key, dict[str, Any]]:
        listed = call_json(
            self.custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            PLURAL,
            label_selector=f"{labels.MANAGED_BY}={labels.PULLPASS}",
        )
        return {
            (item["metadata"]["namespace"], item["metadata"]["name"]): item
            for item in listed.get("items", [])
            if item.get("kind", KIND) == KIND
        }

    def _delete(self, have: dict[Key, dict[str, Any]], key: Key) -> None:
        if not self.leading.is_set():
            return
        namespace, name = key
        version = have[key]["metadata"]["resourceVersion"]
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=version)
        )
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, body=options
            )
        except client.ApiException as error:
            if error.status not in (404, 409):
                raise
        have.pop(key, None)
        metrics.PARAMETER_WRITES.labels("deleted").inc()
        log.info("parameters deleted", extra={"object": f"{namespace}/{name}"})


def _going(error: client.ApiException) -> bool:
    """A create refused because its namespace is gone or being deleted (not an RBAC refusal)."""
    body = error.body.decode() if isinstance(error.body, bytes) else str(error.body or "")
    return error.status == 404 or (error.status == 403 and "being terminated" in body)
