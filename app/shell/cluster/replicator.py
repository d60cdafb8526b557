"""Copies project and cluster sources into the namespaces they serve, on the leader only.

Desired copies come from `scope.resolve`, the same answer the webhook gives pods, so a pod is
never told to use a copy the replicator would not write. The index (fed by watches) says what
exists; the replicator reads a source's data only at the moment it writes a copy, and keeps none.
A Secret without pullpass's managed-by label is never written or deleted: that is a conflict,
reported as an Event on the namespace, a metric and a log line.
"""

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes import client

from app.core import labels
from app.core.credentials import copies
from app.core.credentials.copies import Written
from app.core.credentials.credential import Credential
from app.core.credentials.digest import secret_data
from app.core.credentials.scope import distrusted_project
from app.shell.cluster.client import call_json
from app.shell.cluster.events import record_event
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork, Pacing
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.replicator")

PACING = Pacing(resync=300.0, retry=2.0, burst=0.05, poll=0.1)
PROJECT_NOT_TRUSTED = "ProjectNotTrusted"


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass will do, worked out from the index alone (pure)."""

    write: list[tuple[str, Credential, Credential | None]]
    delete: list[Credential]
    conflicts: list[tuple[str, Credential]]
    in_sync: int
    pending: set[tuple[str, str]]
    distrusted: list[tuple[str, str]]  # (namespace, why its project label gives nothing)


def plan(index: Index, written: Mapping[tuple[str, str], Written]) -> Plan:
    """Compare wanted copies with the copies in the index, by digest (`copies.in_sync`).

    `written` holds the copies this replica wrote whose watch events may not be in the index
    yet; `pending` says which of them still are, so the replicator can forget the rest.
    """
    home = index.settings.credentials_namespace
    existing = {(c.namespace, c.name): c for c in index.credentials()}
    wanted: dict[tuple[str, str], Credential] = {}
    conflicts: list[tuple[str, Credential]] = []
    distrusted: list[tuple[str, str]] = []
    for namespace in index.namespaces():
        if not namespace.enabled or namespace.name == home:
            continue
        why = distrusted_project(namespace, index.settings)
        if why is not None:
            distrusted.append((namespace.name, why))
        resolution = index.resolution(namespace)
        for scoped in resolution.credentials:
            if scoped.copied:
                wanted[(namespace.name, scoped.secret)] = scoped.source
        conflicts.extend((namespace.name, source) for source in resolution.conflicts)
    write = []
    pending = set()
    in_sync = 0
    for key, source in wanted.items():
        copy = existing.get(key)
        if copies.in_sync(source, copy, None):
            in_sync += 1
        elif copies.in_sync(source, copy, written.get(key)):
            in_sync += 1
            pending.add(key)
        else:
            write.append((key[0], source, copy))
    delete = [
        c for key, c in existing.items() if c.managed and key not in wanted and c.namespace != home
    ]
    return Plan(write, delete, conflicts, in_sync, pending, distrusted)


class Replicator(LeaderWork):
    """Writes only what differs: a copy equal to its source is never written again."""

    def __init__(self, setup: LeaderSetup) -> None:
        super().__init__("replicator", setup, PACING, log, setup.index.subscribe())
        self.core = client.CoreV1Api(setup.api)
        self.written: dict[tuple[str, str], Written] = {}
        self._reported: set[tuple[str, str, str]] = set()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="replicate")

    def forget(self) -> None:
        # Copies written under an earlier Lease may have been changed by another leader.
        self.written.clear()

    def reconcile(self) -> int:
        """One pass; returns how many writes failed."""
        started = time.perf_counter()
        work = plan(self.index, self.written)
        self.written = {key: w for key, w in self.written.items() if key in work.pending}
        metrics.COPIES.labels("in_sync").set(work.in_sync)
        metrics.COPIES.labels("conflict").set(len(work.conflicts))
        for namespace, source in work.conflicts:
            self._report_conflict(namespace, source)
        for namespace, why in work.distrusted:
            self._report_distrusted(namespace, why)
        sources: dict[str, dict[str, Any] | None] = {}
        for _, source, _ in work.write:
            if source.ref not in sources:
                sources[source.ref] = self._read_source(source)
        jobs: list[Callable[[], None]] = [
            partial(self._write, ns, sources[s.ref], c) for ns, s, c in work.write
        ]
        jobs += [partial(self._delete, c) for c in work.delete]
        failures = list(self._pool.map(_attempt, jobs)).count(False)
        if not failures:
            metrics.REPLICATION_SECONDS.observe(time.perf_counter() - started)
        return failures

    def _read_source(self, source: Credential) -> dict[str, Any] | None:
        try:
            return call_json(self.core.read_namespaced_secret, source.name, source.namespace)
        except client.ApiException as error:
            if error.status == 404:
                return None  # deleted meanwhile: its watch event brings the next pass
            raise

    def _write(
        self, namespace: str, source: dict[str, Any] | None, copy: Credential | None
    ) -> None:
        if source is None or not self.leading.is_set():
            return None
        meta = source["metadata"]
        ref = f"{meta['namespace']}/{meta['name']}"
        copy_labels, annotations = copies.copy_metadata(ref, meta["resourceVersion"])
        data = source.get("data") or {}
        want = copies.copy_digest(secret_data(source["type"], data), copy_labels, annotations)
        if copy is not None and copies.actual(copy) == want:
            return None  # the index's source was behind: the copy already equals the source read
        over = "" if copy is None else copy.version
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": meta["name"],
                "namespace": namespace,
                "labels": copy_labels,
                "annotations": annotations,
            },
            "type": source["type"],
            "data": data,
        }
        if copy is not None and copy.type != source["type"]:
            self._delete(copy)  # a Secret's type is immutable: replace the copy whole
            copy = None
        if copy is None:
            try:
                call_json(self.core.create_namespaced_secret, namespace, body)
            except client.ApiException as error:
                if error.status != 409:
                    raise
                return self._taken(namespace, meta["name"], ref)
            action = "created"
        else:
            body["metadata"]["resourceVersion"] = copy.version
            call_json(self.core.replace_namespaced_secret, meta["name"], namespace, body)
            action = "updated"
        # Until its watch event brings the new version into the index, this says it is written.
        self.written[(namespace, meta["name"])] = Written(over, want)
        log.info(f"copy {action}", extra={"secret": f"{namespace}/{meta['name']}", "source": ref})
        return None

    def _taken(self, namespace: str, name: str, ref: str) -> None:
        """The name exists but is not in the index: a Secret of another type, or index lag."""
        existing = call_json(self.core.read_namespaced_secret, name, namespace)["metadata"]
        if (existing.get("labels") or {}).get(labels.MANAGED_BY) != labels.PULLPASS:
            home, _, source_name = ref.partition("/")
            holder = Credential(home, source_name, "", {}, {}, (), existing["resourceVersion"])
            self._report_conflict(namespace, holder)

    def _delete(self, copy: Credential) -> None:
        if not self.leading.is_set():
            return
        try:
            self.core.delete_namespaced_secret(
                copy.name,
                copy.namespace,
                body=client.V1DeleteOptions(
                    preconditions=client.V1Preconditions(resource_version=copy.version)
                ),
            )
        except client.ApiException as error:
            if error.status not in (404, 409):
                raise
        self.written.pop((copy.namespace, copy.name), None)
        log.info("copy deleted", extra={"secret": copy.ref})

    def _report_distrusted(self, namespace: str, why: str) -> None:
        """Once per namespace and label: a project label Rancher's annotation does not back."""
        key = (namespace, why, "")
        if key in self._reported:
            return
        self._reported.add(key)
        log.warning("project not trusted", extra={"namespace": namespace, "why": why})
        # In the namespace itself, where its members look (`kubectl get events -n NAME`).
        about = client.V1ObjectReference(
            api_version="v1", kind="Namespace", name=namespace, namespace=namespace
        )
        record_event(self.core, about, PROJECT_NOT_TRUSTED, why, "Warning")

    def _report_conflict(self, namespace: str, source: Credential) -> None:
        key = (namespace, source.name, source.version)
        if key in self._reported:
            return
        self._reported.add(key)
        metrics.CONFLICTS.inc()
        message = (
            f"Secret {source.name} is not managed by pullpass, so {source.ref} "
            f"is not copied into {namespace}"
        )
        log.warning(
            "copy conflict",
            extra={"namespace": namespace, "secret": source.name, "source": source.ref},
        )
        # On the Secret that holds the name, so the tenant sees it in their own namespace
        # (an Event about the cluster-scoped Namespace could only live in `default`).
        holder = client.V1ObjectReference(
            api_version="v1", kind="Secret", name=source.name, namespace=namespace
        )
        record_event(self.core, holder, "CredentialConflict", message, "Warning")


def _attempt(job: Callable[[], None]) -> bool:
    try:
        job()
    except Exception as error:
        metrics.REPLICATION_ERRORS.labels("write").inc()
        log.warning("copy write failed", extra={"why": type(error).__name__})
        return False
    return True
