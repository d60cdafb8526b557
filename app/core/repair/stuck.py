"""Which pending pods repair evicts: the audit's own decision, plus owner and time (pure).

A pod is evicted only when all hold: a ReplicaSet, StatefulSet, DaemonSet or Job controls it
(so it comes back, this time through the webhook); it has been failing to pull for `after`
seconds; and audit says it is stuck pulling an image that a credential pullpass would now add
serves (`pullFailing`, which also means its namespace is enabled). A bare pod, or a pod whose
failing image no credential in scope serves, is never evicted.

The watch keeps a slim copy of each failing pod (`slim`): name, uid, controller owner, images
and waiting reasons, and the three things `add` depends on besides them (its pull secrets, its
ServiceAccount and the opt-out label). Never the whole pod.
"""

from dataclasses import dataclass
from typing import Any

from app.core import labels
from app.core.admission.handle import MIRROR, View
from app.core.audit.report import PULL_FAILURES, audit_object
from app.core.bad_object import BadObject

OWNERS = frozenset({"ReplicaSet", "StatefulSet", "DaemonSet", "Job"})
STATUS_FIELDS = ("initContainerStatuses", "containerStatuses")


@dataclass(frozen=True, slots=True)
class Eviction:
    """One pod to evict, and the owner its Event goes on."""

    namespace: str
    name: str
    uid: str
    owner: dict[str, str]  # apiVersion, kind, name, uid of the controller ownerReference
    add: tuple[str, ...]
    images: tuple[str, ...]  # the images it fails to pull

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def slim(pod: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Pod that `decide` reads, in the Pod's own shape."""
    meta = _dict(pod.get("metadata"))
    spec = _dict(pod.get("spec"))
    status = _dict(pod.get("status"))
    metadata: dict[str, Any] = {
        key: meta[key] for key in ("namespace", "name", "uid") if isinstance(meta.get(key), str)
    }
    owner = _controller(meta)
    if owner is not None:
        metadata["ownerReferences"] = [{**owner, "controller": True}]
    kept_labels = {k: v for k, v in _dict(meta.get("labels")).items() if k == labels.INJECT}
    if kept_labels:
        metadata["labels"] = kept_labels
    if MIRROR in _dict(meta.get("annotations")):
        metadata["annotations"] = {MIRROR: ""}
    slim_spec: dict[str, Any] = {
        field: [
            {"name": c.get("name", ""), "image": c.get("image", "")}
            for c in _list(spec.get(field))
            if isinstance(c, dict)
        ]
        for field in ("initContainers", "containers")
    }
    for field in ("imagePullSecrets", "serviceAccountName"):
        if field in spec:
            slim_spec[field] = spec[field]
    slim_status = {
        field: [
            {
                "name": entry.get("name", ""),
                "image": entry.get("image", ""),
                "state": {"waiting": {"reason": _waiting(entry)}},
            }
            for entry in _list(status.get(field))
            if isinstance(entry, dict) and _waiting(entry) in PULL_FAILURES
        ]
        for field in STATUS_FIELDS
    }
    return {"kind": "Pod", "metadata": metadata, "spec": slim_spec, "status": slim_status}


def failing_images(pod: dict[str, Any]) -> tuple[str, ...]:
    """Images of the containers waiting on a pull failure (of a slim pod)."""
    status = _dict(pod.get("status"))
    return tuple(
        str(entry.get("image", ""))
        for field in STATUS_FIELDS
        for entry in _list(status.get(field))
        if isinstance(entry, dict) and _waiting(entry) in PULL_FAILURES
    )


def decide(
    pod: dict[str, Any], failing_since: float | None, now: float, after: float, view: View
) -> Eviction | None:
    """The eviction this pod is due, or None: bare, not failing long enough, or not repairable
    by a credential (the audit's `pullFailing`)."""
    if failing_since is None or now - failing_since < after:
        return None
    metadata = _dict(pod.get("metadata"))
    owner = _controller(metadata)
    if owner is None or owner["kind"] not in OWNERS:
        return None
    try:
        row = audit_object(pod, view)
    except BadObject:
        return None  # not a pod the webhook could judge either: leave it alone
    if row is None or "kind" in row or not row["pullFailing"]:
        return None
    return Eviction(
        row["namespace"],
        row["name"],
        str(metadata.get("uid", "")),
        owner,
        tuple(row["add"]),
        failing_images(pod),
    )


def _controller(metadata: dict[str, Any]) -> dict[str, str] | None:
    for ref in _list(metadata.get("ownerReferences")):
        if isinstance(ref, dict) and ref.get("controller") is True:
            return {k: str(ref.get(k, "")) for k in ("apiVersion", "kind", "name", "uid")}
    return None


def _waiting(entry: dict[str, Any]) -> Any:
    state = _dict(entry.get("state"))
    return _dict(state.get("waiting")).get("reason")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
