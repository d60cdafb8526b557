"""Which new pods were admitted without the credentials pullpass would have added (pure).

With `failurePolicy: Ignore` a webhook that times out, is unreachable or has a bad certificate
lets the pod through unchanged, and the API server counts it only as a number. The leader judges
each new pod it sees with the audit's own decision: a pod that lacks a credential pullpass would
add now was admitted without pullpass (or pullpass's index was behind). The pod is kept slim
(`repair.stuck.slim`): what `add` depends on, never the whole pod.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from app.core.admission.handle import View
from app.core.audit.report import audit_object, namespace_of
from app.core.bad_object import BadObject


@dataclass(frozen=True, slots=True)
class Missing:
    namespace: str
    name: str
    uid: str
    add: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def judge(pod: dict[str, Any], view: View, unserved: Collection[str]) -> Missing | None:
    """What the pod lacks, or None: it lacks nothing, opted out, or its namespace is one the API
    server never asks pullpass about (`unserved`: kube-system, the release namespace, ...)."""
    namespace = namespace_of(pod)
    if namespace in unserved:
        return None
    try:
        row = audit_object(pod, view)
    except BadObject:
        return None  # not a pod the webhook could judge either
    if row is None or "kind" in row or not row["add"]:
        return None
    metadata = pod.get("metadata")
    uid = metadata.get("uid", "") if isinstance(metadata, dict) else ""
    return Missing(row["namespace"], row["name"], str(uid), tuple(row["add"]))
