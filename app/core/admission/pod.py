"""The few parts of a Pod that pullpass reads, checked once.

Built once per review on the hot path, so the classes are plain slotted dataclasses: a frozen
one costs several times more to construct.

A Pod from the API server is always well formed; anything else reaching the webhook is a
client's mistake that deserves a 400 naming the field, never a crash.
"""

from dataclasses import dataclass
from typing import Any

from app.core.bad_object import BadObject
from app.core.credentials.serviceaccount import DEFAULT

# Past these a pod is admitted unchanged: deciding it would hold the event loop, and with it
# every other review, for seconds (40,000 containers took 2 s). Real pods are far below both.
MAX_CONTAINERS = 256  # init, regular and ephemeral containers together
MAX_IMAGE = 4096  # characters in one image reference
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(slots=True)
class Container:
    name: str
    image: str


@dataclass(slots=True)
class PodView:
    namespace: str
    name: str
    labels: dict[str, str]
    annotations: dict[str, str] | None
    has_metadata: bool
    containers: tuple[Container, ...]
    pull_secrets: tuple[str, ...]
    has_pull_secrets: bool
    service_account: str = DEFAULT
    ephemeral: tuple[Container, ...] = ()


def read_pod(obj: Any, namespace: str = "") -> PodView:
    """Check a Pod object and keep what matching and patching need."""
    if not isinstance(obj, dict):
        raise BadObject("Pod", "must be an object")
    metadata = _object(obj, "metadata", "metadata")
    spec = _object(obj, "spec", "spec")
    labels = _string_map(metadata, "labels", "metadata.labels")
    annotations = _string_map(metadata, "annotations", "metadata.annotations")
    pod_namespace = metadata.get("namespace") or namespace
    if not isinstance(pod_namespace, str):
        raise BadObject("Pod", "metadata.namespace must be a string")
    name = metadata.get("name") or metadata.get("generateName") or ""
    if not isinstance(name, str):
        raise BadObject("Pod", "metadata.name must be a string")
    containers: list[Container] = []
    for field in ("initContainers", "containers"):
        containers.extend(_containers(spec, field))
    # The API server's ServiceAccount admission has set the name before any webhook runs;
    # `serviceAccount` is its deprecated alias, which a pod read from a file may still use.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT
    if not isinstance(account, str):
        raise BadObject("Pod", "spec.serviceAccountName must be a string")
    secrets = spec.get("imagePullSecrets")
    if secrets is not None and not isinstance(secrets, list):
        raise BadObject("Pod", "spec.imagePullSecrets must be a list")
    names: list[str] = []
    for i, ref in enumerate(secrets or ()):
        if not isinstance(ref, dict) or not isinstance(ref.get("name", ""), str):
            raise BadObject(
                "Pod", f"spec.imagePullSecrets[{i}] must be an object with a string name"
            )
        names.append(ref.get("name", ""))
    return PodView(
        namespace=pod_namespace,
        name=name,
        labels=labels,
        annotations=annotations if isinstance(metadata.get("annotations"), dict) else None,
        has_metadata=isinstance(obj.get("metadata"), dict),
        containers=tuple(containers),
        pull_secrets=tuple(names),
        has_pull_secrets=secrets is not None,
        service_account=account,
        ephemeral=tuple(_containers(spec, "ephemeralContainers")),
    )


def oversize(obj: Any) -> str | None:
    """Why a Pod is too large to decide, or None; counts before anything is built or matched.

    Malformed parts are left for `read_pod` to name.
    """
    spec = obj.get("spec") if isinstance(obj, dict) else None
    if not isinstance(spec, dict):
        return None
    lists = [items for f in CONTAINER_FIELDS if isinstance(items := spec.get(f), list)]
    count = sum(map(len, lists))
    if count > MAX_CONTAINERS:
        return f"{count} containers, more than {MAX_CONTAINERS}"
    for items in lists:
        for item in items:
            image = item.get("image") if isinstance(item, dict) else None
            if isinstance(image, str) and len(image) > MAX_IMAGE:
                return f"an image reference of {len(image)} characters, more than {MAX_IMAGE}"
    return None


def _object(parent: dict[str, Any], field: str, where: str) -> dict[str, Any]:
    value = parent.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadObject("Pod", f"{where} must be an object")
    return value


def _string_map(parent: dict[str, Any], field: str, where: str) -> dict[str, str]:
    value = _object(parent, field, where)
    for key, item in value.items():
        if not isinstance(item, str):
            raise BadObject("Pod", f"{where}[{key[:60]!r}] must be a string")
    return value


def _containers(spec: dict[str, Any], field: str) -> list[Container]:
    items = spec.get(field)
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadObject("Pod", f"spec.{field} must be a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadObject("Pod", f"spec.{field}[{i}] must be an object")
        name, image = item.get("name", ""), item.get("image", "")
        if not isinstance(name, str) or not isinstance(image, str):
            raise BadObject("Pod", f"spec.{field}[{i}].name and .image must be strings")
        out.append(Container(name, image))
    return out
