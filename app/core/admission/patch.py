"""JSON Patch operations that only ever append (pure)."""

from collections.abc import Sequence

from app.core import labels
from app.core.admission.pod import PodView
from app.core.admission.review import PatchOperation

# The API server refuses an object whose annotations (keys plus values, in bytes) pass 256 KiB.
ANNOTATIONS_LIMIT = 256 * 1024
_INJECTED_PATH = "/metadata/annotations/" + labels.INJECTED.replace("~", "~0").replace("/", "~1")


def append_pull_secrets(pod: PodView, names: Sequence[str]) -> list[PatchOperation]:
    """Create the list when absent, else append one entry each: existing entries stay put."""
    if not pod.has_pull_secrets:
        value = [{"name": name} for name in names]
        return [{"op": "add", "path": "/spec/imagePullSecrets", "value": value}]
    return [
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": name}} for name in names
    ]


def record_injected(pod: PodView, names: Sequence[str]) -> PatchOperation | None:
    """Keep earlier names on reinvocation so the annotation lists everything pullpass added.

    None when the annotation would push the pod past the API server's annotation size limit:
    the pull secrets matter, the record of them must not get the pod refused.
    """
    annotations = pod.annotations or {}
    earlier = annotations.get(labels.INJECTED, "")
    value = ",".join([*filter(None, earlier.split(",")), *names])
    others = sum(
        len(k.encode()) + len(v.encode()) for k, v in annotations.items() if k != labels.INJECTED
    )
    if others + len(labels.INJECTED) + len(value.encode()) > ANNOTATIONS_LIMIT:
        return None
    if not pod.has_metadata:
        return {
            "op": "add",
            "path": "/metadata",
            "value": {"annotations": {labels.INJECTED: value}},
        }
    if pod.annotations is None:
        return {"op": "add", "path": "/metadata/annotations", "value": {labels.INJECTED: value}}
    return {"op": "add", "path": _INJECTED_PATH, "value": value}
