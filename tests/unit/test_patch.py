"""Patches only append, and reapplying the decision to its own output adds nothing."""

import base64
import json
from typing import Any

import jsonpatch
from hypothesis import given
from hypothesis import strategies as st

from app.core.admission.handle import handle
from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index

INDEX = Index(ScopeSettings("home"), fixed=True)
INDEX.put_namespace(
    NamespaceInfo("a", {"pullpass.io/inject": "enabled", "pullpass.io/project": "p"})
)
for name, key, labels, ns in [
    ("quay", "quay.io", {}, "a"),
    ("hub", "https://index.docker.io/v1/", {}, "a"),
    ("gcr", "gcr.io", {"pullpass.io/project": "p"}, "home"),
    ("wild", "*.example.com", {"pullpass.io/scope": "cluster"}, "home"),
]:
    INDEX.put_credential(Credential(ns, name, "kubernetes.io/dockerconfigjson", labels, {}, (key,)))

IMAGES = st.sampled_from(
    [
        "quay.io/a/b",
        "nginx",
        "gcr.io/x/y:1",
        "r.example.com/z",
        "ghcr.io/q",
        "bad image",
        "docker.io/a/b",
    ]
)
EXISTING = st.lists(st.sampled_from(["quay", "mine", "gcr", "other"]), max_size=3, unique=True)


def review(obj: dict[str, Any]) -> Any:
    return {
        "uid": "u",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": "a",
        "object": obj,
    }


def apply(obj: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    response = handle(review(obj), INDEX).response
    if "patch" not in response:
        return obj, False
    ops = json.loads(base64.b64decode(response["patch"]))
    assert all(op["op"] == "add" for op in ops)
    return jsonpatch.apply_patch(obj, ops), True


@given(
    images=st.lists(IMAGES, min_size=1, max_size=5),
    init=st.lists(IMAGES, max_size=2),
    existing=st.none() | EXISTING,
    annotations=st.none() | st.just({"x": "y"}),
)
def test_patched_pod_reviewed_again_gives_no_patch(
    images: list[str],
    init: list[str],
    existing: list[str] | None,
    annotations: dict[str, str] | None,
) -> None:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": im} for i, im in enumerate(init)]
    if existing is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in existing]
    metadata: dict[str, Any] = {"name": "p", "namespace": "a"}
    if annotations is not None:
        metadata["annotations"] = dict(annotations)
    obj = {"metadata": metadata, "spec": spec}
    once, changed = apply(obj)
    twice, changed_again = apply(once)
    assert not changed_again
    assert twice == once
    names = [s["name"] for s in once["spec"].get("imagePullSecrets") or ()]
    assert names[: len(existing or ())] == (existing or [])
    assert len(names) == len(set(names))
    if changed:
        injected = once["metadata"]["annotations"]["pullpass.io/injected"].split(",")
        assert injected == names[len(existing or ()) :]
        assert (annotations or {}).items() <= once["metadata"]["annotations"].items()
