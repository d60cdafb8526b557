"""Patches only append, and reapplying the decision to its own output adds nothing."""

import base64
import json
from typing import Any

import jsonpatch
from hypothesis import given
from hypothesis import strategies as st

from app.core.admission.handle import handle
from app.core.admission.patch import append_pull_secrets, record_injected
from app.core.admission.pod import PodView
from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from tests.kit.objects import pod

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
    obj = pod(
        "a",
        *images,
        init=tuple(init),
        pull_secrets=existing,
        annotations=None if annotations is None else dict(annotations),
    )
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


def pod_view(**fields: Any) -> PodView:
    view: dict[str, Any] = {
        "namespace": "a",
        "name": "p",
        "labels": {},
        "annotations": None,
        "has_metadata": True,
        "containers": (),
        "pull_secrets": (),
        "has_pull_secrets": False,
    }
    return PodView(**{**view, **fields})


def test_record_injected_creates_what_is_missing() -> None:
    assert record_injected(pod_view(has_metadata=False), ["a", "b"]) == {
        "op": "add",
        "path": "/metadata",
        "value": {"annotations": {"pullpass.io/injected": "a,b"}},
    }
    assert record_injected(pod_view(), ["a"]) == {
        "op": "add",
        "path": "/metadata/annotations",
        "value": {"pullpass.io/injected": "a"},
    }


def test_record_injected_keeps_earlier_names_without_empty_ones() -> None:
    pod = pod_view(annotations={"x": "y", "pullpass.io/injected": ",old,,older"})
    assert record_injected(pod, ["new"]) == {
        "op": "add",
        "path": "/metadata/annotations/pullpass.io~1injected",
        "value": "old,older,new",
    }
    assert record_injected(pod_view(annotations={"x": "y"}), ["new"])["value"] == "new"


def test_append_pull_secrets_creates_the_list_or_appends() -> None:
    assert append_pull_secrets(pod_view(), ["a", "b"]) == [
        {"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "a"}, {"name": "b"}]}
    ]
    assert append_pull_secrets(pod_view(has_pull_secrets=True), ["a", "b"]) == [
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "a"}},
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "b"}},
    ]
