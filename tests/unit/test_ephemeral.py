"""`kubectl debug`: no patch on pods/ephemeralcontainers, a warning naming what the pod lacks."""

from typing import Any

from app.core.admission.handle import WARNING_LIMIT, handle
from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from tests.kit.objects import pod

NS = "a"
INDEX = Index(ScopeSettings("home"), fixed=True)
INDEX.put_namespace(NamespaceInfo(NS, {"pullpass.io/inject": "enabled"}))
INDEX.put_namespace(NamespaceInfo("off", {}))
for ns in (NS, "off"):
    INDEX.put_credential(
        Credential(ns, "debugcred", "kubernetes.io/dockerconfigjson", {}, {}, ("dbg.example",))
    )


def debugged(namespace: str, *ephemeral: str, pull_secrets: tuple[str, ...] = ()) -> Any:
    obj = pod(namespace, "quay.io/app:1", pull_secrets=pull_secrets)
    obj["spec"]["ephemeralContainers"] = [
        {"name": f"debugger-{i}", "image": image} for i, image in enumerate(ephemeral)
    ]
    return obj


def review(new: Any, old: Any = None, operation: str = "UPDATE") -> Any:
    request = {
        "uid": "u",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": operation,
        "subResource": "ephemeralcontainers",
        "namespace": new["metadata"]["namespace"],
        "object": new,
    }
    if old is not None:
        request["oldObject"] = old
    return request


def test_a_debug_image_needing_an_unlisted_credential_warns_naming_it() -> None:
    verdict = handle(review(debugged(NS, "dbg.example/tools:1")), INDEX)
    assert "patch" not in verdict.response
    warnings = verdict.response["warnings"]
    assert len(warnings) == 1
    assert "debugcred" in warnings[0]
    assert "debugger-0" in warnings[0]
    assert len(warnings[0]) <= WARNING_LIMIT


def test_no_warning_when_the_pod_lists_it_or_nothing_serves_the_image() -> None:
    listed = handle(review(debugged(NS, "dbg.example/t", pull_secrets=("debugcred",))), INDEX)
    public = handle(review(debugged(NS, "busybox:1")), INDEX)
    for verdict in (listed, public):
        assert "patch" not in verdict.response
        assert "warnings" not in verdict.response


def test_only_the_newly_added_container_is_judged() -> None:
    old = debugged(NS, "dbg.example/t")
    new = debugged(NS, "dbg.example/t", "busybox:1")
    verdict = handle(review(new, old), INDEX)
    assert "warnings" not in verdict.response


def test_a_namespace_that_is_not_enabled_is_left_alone() -> None:
    verdict = handle(review(debugged("off", "dbg.example/t")), INDEX)
    assert verdict.response == {"uid": "u", "allowed": True}


def test_other_subresources_and_operations_get_nothing() -> None:
    obj = debugged(NS, "dbg.example/t")
    for request in (review(obj, operation="CREATE"), {**review(obj), "subResource": "status"}):
        verdict = handle(request, INDEX)
        assert verdict.response == {"uid": "u", "allowed": True}


def test_the_answer_is_for_this_review_and_counted_as_unchanged() -> None:
    verdict = handle(review(debugged(NS, "dbg.example/tools:1")), INDEX)
    assert verdict.response["uid"] == "u"
    assert verdict.outcome == "unchanged"
