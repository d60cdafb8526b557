"""JSON Patch operations that only ever append (pure)."""

from collections.abc import Sequence

from app.core import labels
from app.core.admission.pod import PodView
from app.core.admission.review import PatchOperation

_INJECTED_PATH = "/metadata/annotations/" + labels.INJECTED.replace("~", "~0").replace("/", "~1")


def append_pull_secrets(pod: PodView, names: Sequence[str]) -> list[PatchOperation]:
    """Create the list when absent, else append one entry each: existing entries stay put."""
    if not pod.has_pull_secrets:
        value = [{"name": name} for name in names]
        return [{"op": "add", "path": "/spec/imagePullSecrets", "value": value}]
    return [
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": name}} for name in names
    ]


def record_injected(pod: PodView, names: Sequence[str]) -> PatchOperation:
    """Keep earlier names on reinvocation so the annotation lists everything pullpass added."""
    earlier = (pod.annotations or {}).get(labels.INJECTED, "")
    value = ",".join([*filter(None, earlier.split(",")), *names])
    if not pod.has_metadata:
        return {
            "op": "add",
            "path": "/metadata",
            "value": {"annotations": {labels.INJECTED: value}},
        }
    if pod.annotations is None:
        return {"op": "add", "path": "/metadata/annotations", "value": {labels.INJECTED: value}}
    return {"op": "add", "path": _INJECTED_PATH, "value": value}
