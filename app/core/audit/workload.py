"""Where a workload keeps the pod template its next pods are made from, and who owns what (pure).

Owned ReplicaSets and ReplicationControllers are left out: their owner's template is the one the
next pods come from, and reporting both would count every Deployment twice.
"""

from typing import Any

from app.core.bad_object import BadObject

# kind -> path to the pod template in the object
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
}
AUDITED_ONLY_WITHOUT_OWNER = frozenset({"ReplicaSet", "ReplicationController"})


def controller_owner(obj: dict[str, Any]) -> str | None:
    """`Kind/name` of the ownerReference marked `controller: true`, or None."""
    metadata = obj.get("metadata")
    refs = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    if refs is None:
        return None
    if not isinstance(refs, list):
        raise BadObject(str(obj.get("kind", "object")), "metadata.ownerReferences must be a list")
    for ref in refs:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    return None


def pod_from_template(obj: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    """A Pod as the workload's controller would create it next, or None when not audited."""
    kind = str(obj.get("kind", ""))
    path = TEMPLATE_PATHS.get(kind)
    if path is None:
        return None
    if kind in AUDITED_ONLY_WITHOUT_OWNER and controller_owner(obj) is not None:
        return None
    node: Any = obj
    for i, field in enumerate(path):
        node = node.get(field) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict):
            raise BadObject(kind, f"{'.'.join(path[: i + 1])} must be an object")
    template = node or {}
    metadata = template.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadObject(kind, f"{'.'.join(path)}.metadata must be an object")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**metadata, "namespace": namespace},
        "spec": template.get("spec") or {},
    }
