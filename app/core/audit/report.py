"""One audit row per Pod or workload, decided by the webhook's own `handle` (pure).

A row asks "what would a new pod like this one get that it lacks?", so the answer cannot drift
from what the server does: the object goes through a synthetic CREATE review.
"""

from collections.abc import Iterable
from typing import Any, TypedDict, final

from app.core.admission.handle import View, handle
from app.core.admission.pod import read_pod
from app.core.admission.review import Request
from app.core.audit.workload import TEMPLATE_PATHS, controller_owner, pod_from_template
from app.core.bad_object import BadObject

PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff"})
DEFAULT_NAMESPACE = "default"


@final
class PodRow(TypedDict):
    namespace: str
    name: str
    owner: str | None
    add: list[str]
    pullFailing: bool


@final
class WorkloadRow(TypedDict):
    namespace: str
    kind: str
    name: str
    add: list[str]


class Report(TypedDict):
    pods: list[PodRow]
    workloads: list[WorkloadRow]


def namespace_of(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE


def is_audited_kind(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Pod" or obj.get("kind") in TEMPLATE_PATHS


def audit_object(obj: dict[str, Any], view: View) -> PodRow | WorkloadRow | None:
    """The row for a Pod or workload; None for other kinds and owned ReplicaSets.

    Raises BadObject naming the object (kind, namespace/name) when it is malformed.
    """
    kind = str(obj.get("kind", ""))
    namespace = namespace_of(obj)
    metadata = obj.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, dict) else ""
    try:
        if kind == "Pod":
            add = _added(obj, namespace, view)
            return {
                "namespace": namespace,
                "name": name,
                "owner": controller_owner(obj),
                "add": add,
                "pullFailing": _pull_failing(obj, namespace, add, view),
            }
        pod = pod_from_template(obj, namespace)
        if pod is None:
            return None
        return {
            "namespace": namespace,
            "kind": kind,
            "name": name,
            "add": _added(pod, namespace, view),
        }
    except BadObject as error:
        raise BadObject(f"{kind} {namespace}/{name}", error.problem) from None


def build_report(rows: Iterable[PodRow | WorkloadRow | None]) -> Report:
    """Rows sorted by namespace, then kind and name, so two runs compare line by line."""
    pods: list[PodRow] = []
    workloads: list[WorkloadRow] = []
    for row in rows:
        if row is None:
            continue
        if "kind" in row:
            workloads.append(row)
        else:
            pods.append(row)
    pods.sort(key=lambda r: (r["namespace"], r["name"]))
    workloads.sort(key=lambda r: (r["namespace"], r["kind"], r["name"]))
    return {"pods": pods, "workloads": workloads}


def _added(pod: dict[str, Any], namespace: str, view: View) -> list[str]:
    request: Request = {
        "uid": "audit",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": namespace,
        "object": pod,
    }
    return list(handle(request, view).added)


def _pull_failing(pod: dict[str, Any], namespace: str, add: list[str], view: View) -> bool:
    """A container waits on a pull failure of an image that a credential in `add` serves."""
    table = view.table(namespace)
    if not add or table is None:
        return False
    wanted = set(add)
    images = {c.name: c.image for c in read_pod(pod, namespace).containers}
    status = pod.get("status")
    if not isinstance(status, dict):
        return False
    for field in ("initContainerStatuses", "containerStatuses"):
        statuses = status.get(field)
        if statuses is None:
            continue
        if not isinstance(statuses, list):
            raise BadObject("Pod", f"status.{field} must be a list")
        for entry in statuses:
            if not isinstance(entry, dict):
                raise BadObject("Pod", f"status.{field} entries must be objects")
            state = entry.get("state")
            waiting = state.get("waiting") if isinstance(state, dict) else None
            if not isinstance(waiting, dict) or waiting.get("reason") not in PULL_FAILURES:
                continue
            image = images.get(str(entry.get("name", ""))) or str(entry.get("image", ""))
            if table.match(image).secrets & wanted:
                return True
    return False
