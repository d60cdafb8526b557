"""Every admission rule of the contract, against a real `pullpass serve --objects` over TLS."""

import base64
import json
from typing import Any

import jsonpatch
import pytest

from tests.kit.objects import pod, review
from tests.kit.serving import Server


def admit(server: Server, obj: dict[str, Any] | None, **kw: Any) -> dict[str, Any]:
    sent = review(obj, **kw)
    answer = server.post(sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    response: dict[str, Any] = body["response"]
    assert response["uid"] == sent["request"]["uid"]
    assert response["allowed"] is True
    return response


def operations(response: dict[str, Any]) -> list[dict[str, Any]]:
    if "patch" not in response:
        return []
    assert response["patchType"] == "JSONPatch"
    ops: list[dict[str, Any]] = json.loads(base64.b64decode(response["patch"]))
    return ops


def patched(obj: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = jsonpatch.apply_patch(obj, operations(response))
    return result


def added(server: Server, obj: dict[str, Any]) -> list[str]:
    after = patched(obj, admit(server, obj))
    before = {s["name"] for s in obj["spec"].get("imagePullSecrets") or ()}
    return [
        s["name"] for s in after["spec"].get("imagePullSecrets") or () if s["name"] not in before
    ]


def test_rancher_example_quay_credential_is_added(server: Server) -> None:
    obj = pod("team-a", "quay.io/profile/image:1")
    response = admit(server, obj)
    assert operations(response)[0] == {
        "op": "add",
        "path": "/spec/imagePullSecrets",
        "value": [{"name": "quay"}],
    }
    assert patched(obj, response)["metadata"]["annotations"] == {"pullpass.io/injected": "quay"}
    assert response["auditAnnotations"] == {"injected": "quay"}


def test_order_is_namespace_by_name_then_project_then_cluster(server: Server) -> None:
    obj = pod(
        "team-a",
        "example.com/shared/tool",
        "gcr.io/p/app",
        "quay.io/x/y",
        "registry.example.com:5000/team/app@sha256:" + "a" * 64,
    )
    assert added(server, obj) == ["private", "quay", "alpha-gcr", "everyone"]


@pytest.mark.parametrize(
    "image", ["nginx", "library/nginx:1.27", "docker.io/x/y", "index.docker.io/x/y"]
)
def test_docker_hub_images_get_the_hub_key(server: Server, image: str) -> None:
    assert added(server, pod("team-a", image)) == ["hub"]


def test_init_containers_count(server: Server) -> None:
    assert added(server, pod("team-a", "gcr.io/p/app", init=("quay.io/x/init",))) == [
        "quay",
        "alpha-gcr",
    ]


def test_existing_pull_secrets_are_kept_in_place_and_not_duplicated(server: Server) -> None:
    obj = pod("team-a", "quay.io/x/y", "gcr.io/p/q", pull_secrets=("zzz-mine", "quay"))
    response = admit(server, obj)
    assert operations(response)[0] == {
        "op": "add",
        "path": "/spec/imagePullSecrets/-",
        "value": {"name": "alpha-gcr"},
    }
    after = patched(obj, response)
    assert [s["name"] for s in after["spec"]["imagePullSecrets"]] == [
        "zzz-mine",
        "quay",
        "alpha-gcr",
    ]


def test_existing_annotations_are_kept(server: Server) -> None:
    obj = pod("team-a", "quay.io/x/y", annotations={"team": "a"})
    after = patched(obj, admit(server, obj))
    assert after["metadata"]["annotations"] == {"team": "a", "pullpass.io/injected": "quay"}


def test_second_review_of_the_patched_pod_gives_no_patch(server: Server) -> None:
    obj = pod("team-a", "quay.io/x/y", "nginx", "gcr.io/a/b")
    once = patched(obj, admit(server, obj))
    again = admit(server, once)
    assert "patch" not in again
    assert "auditAnnotations" not in again


def test_reinvocation_after_another_webhook_adds_a_container(server: Server) -> None:
    obj = pod("team-a", "quay.io/x/y")
    once = patched(obj, admit(server, obj))
    once["spec"]["containers"].append({"name": "sidecar", "image": "gcr.io/mesh/proxy"})
    twice = patched(once, admit(server, once))
    assert [s["name"] for s in twice["spec"]["imagePullSecrets"]] == ["quay", "alpha-gcr"]
    assert twice["metadata"]["annotations"]["pullpass.io/injected"] == "quay,alpha-gcr"


def test_warning_for_a_registry_served_only_out_of_scope(server: Server) -> None:
    response = admit(server, pod("team-a", "ghcr.io/org/app", "ghcr.io/org/other"))
    assert "patch" not in response
    assert len(response["warnings"]) == 1
    assert "ghcr.io" in response["warnings"][0]
    assert all(len(w) < 120 for w in response["warnings"])


def test_no_warning_when_no_credential_exists_anywhere(server: Server) -> None:
    response = admit(server, pod("team-a", "unknown.example/app"))
    assert "warnings" not in response
    assert "patch" not in response


def test_secret_annotated_inject_false_is_not_used(server: Server) -> None:
    assert added(server, pod("team-a", "ghcr.io/org/app")) == []


def test_pod_opt_out_label(server: Server) -> None:
    response = admit(
        server, pod("team-a", "quay.io/x/y", labels={"pullpass.io/inject": "disabled"})
    )
    assert "patch" not in response


def test_namespace_not_enabled_is_left_alone(server: Server) -> None:
    assert "patch" not in admit(server, pod("off", "quay.io/x/y", "gcr.io/a/b"))
    assert "patch" not in admit(server, pod("unknown-namespace", "gcr.io/a/b"))


@pytest.mark.parametrize(
    ("operation", "kind", "group"),
    [
        ("UPDATE", "Pod", ""),
        ("DELETE", "Pod", ""),
        ("CREATE", "Deployment", "apps"),
        ("CREATE", "Pod", "example.io"),
    ],
)
def test_other_requests_are_allowed_without_patch(
    server: Server, operation: str, kind: str, group: str
) -> None:
    response = admit(
        server, pod("team-a", "quay.io/x/y"), operation=operation, kind=kind, group=group
    )
    assert "patch" not in response


def test_update_with_no_object_is_allowed(server: Server) -> None:
    assert "patch" not in admit(server, None, operation="DELETE")


def test_dry_run_create_shows_the_injection(server: Server) -> None:
    assert operations(admit(server, pod("team-a", "quay.io/x/y"), dry_run=True))


def test_stray_source_outside_the_credentials_namespace_is_ignored(server: Server) -> None:
    assert added(server, pod("team-a", "evil.example/x")) == []
    assert added(server, pod("team-c", "evil.example/x")) == []


def test_project_source_reaches_only_its_project(server: Server) -> None:
    assert added(server, pod("team-b", "gcr.io/p/app")) == []
    assert added(server, pod("team-b", "example.com/shared/x")) == ["everyone"]


def test_a_name_held_by_an_unmanaged_secret_is_never_referenced_as_a_copy(server: Server) -> None:
    # team-c's own "alpha-gcr" serves other.example; the project source of that name cannot be
    # copied there, so gcr.io images in team-c get nothing.
    assert added(server, pod("team-c", "gcr.io/p/app")) == []
    assert added(server, pod("team-c", "other.example/app")) == ["alpha-gcr"]


def test_legacy_dockercfg_with_a_glob_key(server: Server) -> None:
    assert added(server, pod("team-a", "eu.corp.example/app")) == ["legacy"]
    assert added(server, pod("team-a", "a.b.corp.example/app")) == []


def test_ports_must_be_equal(server: Server) -> None:
    assert added(server, pod("team-a", "registry.example.com/app")) == []
    assert added(server, pod("team-a", "registry.example.com:5001/app")) == []


def test_path_prefix_key(server: Server) -> None:
    assert added(server, pod("team-b", "example.com/shared-other/x")) == ["everyone"]
    assert added(server, pod("team-b", "example.com/other/x")) == []


@pytest.mark.parametrize("image", ["", "UPPER/Case", "quay.io/x/y:bad tag", ":latest", "a" * 300])
def test_invalid_references_match_nothing(server: Server, image: str) -> None:
    assert added(server, pod("team-a", image)) == []
