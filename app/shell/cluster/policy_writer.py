"""Keeps policy mode's parameter objects equal to what the index says, on the leader only.

The specs come from `app.core.policy.parameters.desired`, over the same resolutions the webhook
serves from, so both modes decide alike. A pass compares them with the objects as last listed
(on leading, every resync, after a failed pass) or written, and writes only the differences: an
object already equal to its spec is never written again, by a restarted replica or a new leader
either. No credential data is read: only registry keys,
which the index already holds.

One refused object does not stop the others: it alone is read again before the next pass, which
comes a second later, and written if it still differs. A namespace that is gone or being deleted
refuses new objects until its deletion reaches the index: no fault, so it is reported once at info
level, counted as `refused`, and brings no retry of its own.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal

import orjson
from kubernetes import client

from app.core import labels
from app.core.policy.manifests import (
    GROUP,
    KIND,
    MAX_HELD_BYTES,
    PLURAL,
    VERSION,
    parameter_object,
)
from app.core.policy.parameters import Spec, desired
from app.shell.cluster.client import call_json
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork, Pacing
from app.shell.telemetry import metrics

log = logging.getLogger("pullpass.policy")

PACING = Pacing(resync=300.0, retry=1.0, burst=0.05, poll=0.05)
WRITERS = 8

Key = tuple[str, str]
Refusal = Literal["going", "changed", "failed"]


def wanted(index: Index, held_bytes: int = MAX_HELD_BYTES) -> dict[Key, Spec]:
    """The parameter specs the index calls for, by (namespace, name); `held_bytes`: how much of
    the covered namespaces' resolutions the shared object holds (`parameters.held`)."""
    resolutions = {n.name: index.resolution(n) for n in index.namespaces() if n.enabled}
    return desired(resolutions, index.credentials(), index.settings, held_bytes)


class PolicyWriter(LeaderWork):
    def __init__(self, setup: LeaderSetup, held_bytes: int = MAX_HELD_BYTES) -> None:
        """`held_bytes` below the default puts more namespaces in objects of their own."""
        super().__init__("policy-writer", setup, PACING, log, setup.index.subscribe())
        self.held_bytes = held_bytes
        self.custom = client.CustomObjectsApi(setup.api)
        self._pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="parameters")
        # The objects as last listed or written; None: list them on the next pass.
        self._known: dict[Key, dict[str, Any]] | None = None
        # Refused on the last pass: read again before the next one, as they may have changed.
        self._refused: set[Key] = set()
        # Namespaces already reported as gone or being deleted, until the index drops them.
        self._going: set[str] = set()

    def forget(self) -> None:
        # A new leader, and every resync, lists the objects again (edits by hand included).
        self._known = None

    def failed(self, error: Exception) -> None:
        self.forget()  # the next pass lists again
        metrics.PARAMETER_WRITES.labels("failed").inc()
        super().failed(error)

    def reconcile(self) -> int:
        """One pass; returns how many writes failed and are due again on the next pass.

        The writes go out in parallel: a new cluster source changes every namespace object. The
        objects are listed only when nothing is known of them (first pass, resync, a failed
        pass): otherwise a pass reads nothing but the index and the objects refused last time.
        """
        want = wanted(self.index, self.held_bytes)
        have, self._known = self._known, None  # None until this pass is through
        if have is None:
            have = self._existing()
        else:
            self._read_again(have, self._refused)
        jobs: list[tuple[Key, Callable[[], None]]] = [
            ((namespace, name), partial(self._write, have, (namespace, name), spec))
            for (namespace, name), spec in want.items()
            if have.get((namespace, name), {}).get("spec") != spec
        ]
        jobs += [(key, partial(self._delete, have, key)) for key in list(have) if key not in want]
        errors = self._pool.map(_attempt, (job for _, job in jobs))
        self._going &= {namespace for namespace, _ in want}
        refusals = {
            key: self._report(key, e) for (key, _), e in zip(jobs, errors, strict=True) if e
        }
        self._refused = set(refusals)
        self._known = have
        failed = sum(why != "going" for why in refusals.values())
        log.debug(
            "parameter pass",
            extra={"objects": len(want), "writes": len(jobs), "refused": len(refusals)},
        )
        return failed

    def _read_again(self, have: dict[Key, dict[str, Any]], keys: set[Key]) -> None:
        """Bring the objects refused last pass up to date: they may have changed or gone.

        Each is listed by name (the chart grants `list`, not `get`), with or without pullpass's
        label, so that an object made by hand under its name is replaced rather than created.
        """
        for namespace, name in keys:
            listed = call_json(
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                field_selector=f"metadata.name={name}",
            )
            items = listed.get("items") or []
            if items:
                have[namespace, name] = items[0]
            else:
                have.pop((namespace, name), None)

    def _report(self, key: Key, error: Exception) -> Refusal:
        """Count and log a refused write, at the level a cluster admin wants it."""
        namespace, name = key
        why = _refusal(error)
        status = getattr(error, "status", None)
        extra = {"object": f"{namespace}/{name}", "status": status, **_reason(error)}
        if why == "going":
            metrics.PARAMETER_WRITES.labels("refused").inc()
            # Reported once: the namespace may stay terminating for long (a stuck finalizer).
            report = log.debug if namespace in self._going else log.info
            self._going.add(namespace)
            report("parameters not written: the namespace is gone or being deleted", extra=extra)
            return why
        metrics.PARAMETER_WRITES.labels("failed").inc()
        report = log.info if why == "changed" else log.warning
        report(
            "parameters not written, tried again on the next pass",
            extra={**extra, "why": type(error).__name__},
        )
        return why

    def _write(self, have: dict[Key, dict[str, Any]], key: Key, spec: Spec) -> None:
        """Create or replace one object, and remember what the API server stored."""
        if not self.leading.is_set():
            return
        namespace, name = key
        body = parameter_object(namespace, name, spec)
        current = have.get(key)
        if current is None:
            stored = call_json(
                self.custom.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, body
            )
            action = "created"
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            # Stored with no managedFields: they would list every key of the spec's maps (each
            # covered namespace, each host) again, about doubling the object that etcd stores
            # and every watch of it carries. A create records them whatever it sends (and the
            # API server drops them from an object too large with them); a replace of `[{}]`
            # stores none.
            body["metadata"]["managedFields"] = [{}]
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


def _attempt(job: Callable[[], None]) -> Exception | None:
    """Run one write; its error, if any, is the pass's to report."""
    try:
        job()
    except Exception as error:
        return error
    return None


def _status(error: Exception) -> dict[str, Any]:
    """The API server's Status from a refusal, or {} (a refused connection has none)."""
    body = getattr(error, "body", None)
    try:
        status = orjson.loads(body) if isinstance(body, bytes | str) and body else {}
    except orjson.JSONDecodeError:
        return {}
    return status if isinstance(status, dict) else {}


def _refusal(error: Exception) -> Refusal:
    """Why a write was refused: "going", its namespace is gone or being deleted (the namespace's
    watch event comes next); "changed", the object changed or went since it was read; else
    "failed" (RBAC, an invalid object, the API server unwell)."""
    code = getattr(error, "status", None)
    status = _status(error)
    details = status.get("details") or {}
    causes = details.get("causes") or []
    terminating = "being terminated" in str(status.get("message", "")) or any(
        cause.get("reason") == "NamespaceTerminating" for cause in causes
    )
    if terminating or (code == 404 and details.get("kind") == "namespaces"):
        return "going"
    if code in (404, 409):
        return "changed"
    return "failed"


def _reason(error: Exception) -> dict[str, str]:
    """The Status's reason and message, for the log: no object, header or credential."""
    status = _status(error)
    said = {"reason": status.get("reason"), "detail": status.get("message")}
    return {k: str(v)[:300] for k, v in said.items() if v}
