"""The admission decision and its response, in-process on plain data: which requests are skipped,
what is added, the patch, the warnings and the audit annotation."""

import base64
import json
import time
from typing import Any

import orjson
import pytest

from app.core.admission import respond
from app.core.admission.handle import WARNING_LIMIT, Verdict, handle
from app.core.admission.pod import MAX_CONTAINERS, MAX_IMAGE, oversize
from app.core.credentials.credential import Credential
from app.core.credentials.keyset import KeySet
from app.core.credentials.match import MatchTable
from app.core.credentials.scope import Scoped
from app.core.credentials.serviceaccount import ServiceAccountInfo, ordinary
from app.core.images.reference import ImageName


def scoped(secret: str, *keys: str, scope: str = "namespace") -> Scoped:
    source = Credential("a", secret, "kubernetes.io/dockerconfigjson", {}, {}, keys)
    return Scoped(secret, scope, source)


class View:
    """An index of one enabled namespace `a`, and credentials found elsewhere in the cluster."""

    def __init__(self, here: list[Scoped], elsewhere: list[Scoped] | None = None) -> None:
        self.here = MatchTable(here)
        self.elsewhere = KeySet()
        self.elsewhere.add(key for c in elsewhere or [] for key in c.source.keys)
        self.asked: list[str] = []

    def table(self, namespace: str) -> MatchTable | None:
        self.asked.append(namespace)
        return self.here if namespace == "a" else None

    def serves_anywhere(self, image: ImageName) -> bool:
        return self.elsewhere.serves(image)

    def service_account(self, namespace: str, name: str) -> ServiceAccountInfo:
        return ordinary(namespace, name)


QUAY = scoped("quay", "quay.io")
GCR = scoped("gcr", "gcr.io", scope="cluster")
VIEW = View([QUAY, GCR], [scoped("ghcr", "ghcr.io"), scoped("other", "other.example")])


def request(
    *images: str,
    namespace: str = "a",
    kind: tuple[str, str] = ("", "Pod"),
    operation: str = "CREATE",
    **pod: Any,
) -> Any:
    obj: dict[str, Any] = {
        "metadata": pod.pop("metadata", {"name": "p"}),
        "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]},
    }
    obj["spec"].update(pod)
    group, kind_name = kind
    return {
        "uid": "u-1",
        "kind": {"group": group, "version": "v1", "kind": kind_name},
        "operation": operation,
        "namespace": namespace,
        "object": obj,
    }


def patch_of(verdict: Verdict) -> list[dict[str, Any]]:
    return json.loads(base64.b64decode(verdict.response["patch"]))


@pytest.mark.parametrize(
    ("kind", "operation"),
    [(("", "Pod"), "UPDATE"), (("", "Service"), "CREATE"), (("apps", "Pod"), "CREATE")],
)
def test_only_a_core_pod_create_is_handled(kind: tuple[str, str], operation: str) -> None:
    verdict = handle(request("quay.io/a/b", kind=kind, operation=operation), VIEW)
    reason = "not a Pod CREATE" if kind == ("", "Pod") else "not a Pod"
    assert verdict == Verdict({"uid": "u-1", "allowed": True}, "skipped", reason)


def test_opted_out_pod_is_skipped() -> None:
    metadata = {"name": "p", "labels": {"pullpass.io/inject": "disabled"}}
    verdict = handle(request("quay.io/a/b", metadata=metadata), VIEW)
    assert verdict == Verdict({"uid": "u-1", "allowed": True}, "skipped", "pod opted out")


def test_other_label_values_do_not_opt_out() -> None:
    metadata = {"name": "p", "labels": {"pullpass.io/inject": "enabled"}}
    assert handle(request("quay.io/a/b", metadata=metadata), VIEW).outcome == "patched"


def test_namespace_not_enabled_is_skipped() -> None:
    verdict = handle(request("quay.io/a/b", namespace="b"), VIEW)
    assert verdict == Verdict({"uid": "u-1", "allowed": True}, "skipped", "namespace not enabled")


def test_pod_namespace_falls_back_to_the_request_namespace() -> None:
    metadata = {"name": "p", "namespace": "b"}
    assert handle(request("quay.io/a/b", metadata=metadata), VIEW).outcome == "skipped"
    review = request("quay.io/a/b")
    del review["namespace"]
    view = View([QUAY])
    assert handle(review, view).reason == "namespace not enabled"
    assert view.asked == [""]


def test_an_image_that_does_not_parse_skips_only_its_container() -> None:
    assert handle(request("bad image", "quay.io/a/b"), VIEW).added == ("quay",)


def test_needed_credentials_are_added_in_table_order_once() -> None:
    verdict = handle(request("gcr.io/x", "quay.io/a/b", "quay.io/c", "nginx"), VIEW)
    assert (verdict.outcome, verdict.reason, verdict.added) == (
        "patched",
        "credentials added",
        ("quay", "gcr"),
    )
    assert verdict.response["uid"] == "u-1"
    assert verdict.response["allowed"] is True
    assert verdict.response["patchType"] == "JSONPatch"
    assert verdict.response["auditAnnotations"] == {"injected": "quay,gcr"}
    assert "warnings" not in verdict.response
    assert patch_of(verdict) == [
        {
            "op": "add",
            "path": "/spec/imagePullSecrets",
            "value": [{"name": "quay"}, {"name": "gcr"}],
        },
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"pullpass.io/injected": "quay,gcr"},
        },
    ]


def test_init_containers_count() -> None:
    review = request("nginx", initContainers=[{"name": "i", "image": "gcr.io/x"}])
    assert handle(review, VIEW).added == ("gcr",)


def test_secrets_already_listed_are_not_added_again() -> None:
    review = request("quay.io/a/b", "gcr.io/x", imagePullSecrets=[{"name": "quay"}])
    verdict = handle(review, VIEW)
    assert verdict.added == ("gcr",)
    assert patch_of(verdict)[0] == {
        "op": "add",
        "path": "/spec/imagePullSecrets/-",
        "value": {"name": "gcr"},
    }


def test_nothing_to_add_is_unchanged_without_a_patch() -> None:
    review = request("quay.io/a/b", imagePullSecrets=[{"name": "quay"}])
    verdict = handle(review, VIEW)
    assert verdict == Verdict({"uid": "u-1", "allowed": True}, "unchanged", "nothing to add")


def test_registry_served_only_elsewhere_warns_once() -> None:
    verdict = handle(request("ghcr.io/a", "ghcr.io/b", "nginx", "bad image"), VIEW)
    assert verdict.outcome == "unchanged"
    assert verdict.response == {
        "uid": "u-1",
        "allowed": True,
        "warnings": [
            "pullpass: ghcr.io has a registry credential in the cluster, none in scope here"
        ],
    }


def test_warnings_ride_along_with_a_patch_one_per_registry() -> None:
    verdict = handle(request("other.example/x", "quay.io/a", "ghcr.io/a"), VIEW)
    assert verdict.added == ("quay",)
    assert verdict.response["warnings"] == [
        "pullpass: other.example has a registry credential in the cluster, none in scope here",
        "pullpass: ghcr.io has a registry credential in the cluster, none in scope here",
    ]


def test_an_image_served_here_gives_no_warning_even_if_served_elsewhere() -> None:
    view = View([QUAY], [scoped("quay-elsewhere", "quay.io")])
    verdict = handle(request("quay.io/a"), view)
    assert "warnings" not in verdict.response


def test_long_warning_is_cut_to_the_limit() -> None:
    host = "r" * 90 + ".example"
    verdict = handle(request(f"{host}/a"), View([], [scoped("far", host)]))
    (warning,) = verdict.response["warnings"]
    assert len(warning) == WARNING_LIMIT
    assert warning == f"pullpass: {host} has a r..."


def test_warning_of_exactly_the_limit_is_kept_whole() -> None:
    text = "pullpass: {} has a registry credential in the cluster, none in scope here"
    host = "r" * (WARNING_LIMIT - len(text.format("")) - 4) + ".com"
    verdict = handle(request(f"{host}/a"), View([], [scoped("far", host)]))
    assert verdict.response["warnings"] == [text.format(host)]
    assert len(text.format(host)) == WARNING_LIMIT


def test_review_and_error_bodies() -> None:
    assert orjson.loads(respond.review({"uid": "u", "allowed": True})) == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "u", "allowed": True},
    }
    assert orjson.loads(respond.error("bad")) == {"error": "bad"}


def test_patched_without_warnings_or_audit_carries_neither() -> None:
    response = respond.patched("u", [{"op": "add", "path": "/x", "value": 1}])
    assert response == {
        "uid": "u",
        "allowed": True,
        "patchType": "JSONPatch",
        "patch": base64.b64encode(b'[{"op":"add","path":"/x","value":1}]').decode(),
    }
    assert respond.allowed_with_warnings("u", []) == {"uid": "u", "allowed": True}


# --- bounded work per review: counted before anything is built or matched ---------------


def pod_with(**spec: Any) -> dict[str, Any]:
    review = request("quay.io/a/b")
    review["object"]["spec"].update(spec)
    return review


def containers(n: int, image: str = "quay.io/a/b") -> list[dict[str, str]]:
    return [{"name": f"c{i}", "image": image} for i in range(n)]


@pytest.mark.parametrize("field", ["initContainers", "containers", "ephemeralContainers"])
def test_a_pod_past_the_container_limit_is_admitted_unchanged_with_a_warning(field: str) -> None:
    spec = {"containers": containers(1), field: containers(MAX_CONTAINERS + 1)}
    verdict = handle(pod_with(**spec), VIEW)
    assert verdict.outcome == "too_large"
    assert verdict.response["allowed"] is True
    assert "patch" not in verdict.response
    [warning] = verdict.response["warnings"]
    assert f"more than {MAX_CONTAINERS}" in warning


def test_the_limit_counts_every_kind_of_container_together() -> None:
    third = MAX_CONTAINERS // 3
    spec = {
        "initContainers": containers(third),
        "containers": containers(third),
        "ephemeralContainers": containers(MAX_CONTAINERS - 2 * third),
    }
    assert oversize({"spec": spec}) is None
    spec["containers"] = containers(third + 1)
    assert oversize({"spec": spec}) == f"{MAX_CONTAINERS + 1} containers, more than 256"


def test_a_pod_at_the_limits_is_still_decided() -> None:
    verdict = handle(pod_with(containers=containers(MAX_CONTAINERS)), VIEW)
    assert (verdict.outcome, verdict.added) == ("patched", ("quay",))
    image = "quay.io/" + "a" * (MAX_IMAGE - len("quay.io/"))  # too long to be a reference
    assert handle(pod_with(containers=containers(1, image)), VIEW).outcome == "unchanged"


def test_a_too_long_image_reference_is_admitted_unchanged() -> None:
    image = "quay.io/" + "a" * MAX_IMAGE
    verdict = handle(pod_with(containers=containers(1, image)), VIEW)
    assert verdict.outcome == "too_large"
    assert f"{len(image)} characters" in verdict.reason
    assert verdict.response["allowed"] is True


def test_an_ephemeral_container_update_is_bounded_too() -> None:
    review = pod_with(ephemeralContainers=containers(MAX_CONTAINERS + 1))
    review["operation"], review["subResource"] = "UPDATE", "ephemeralcontainers"
    review["oldObject"] = {"spec": {"containers": containers(1)}}
    assert handle(review, VIEW).outcome == "too_large"


def test_forty_thousand_containers_are_decided_in_milliseconds() -> None:
    """The flood that held the loop for seconds: now one count and no matching."""
    review = pod_with(containers=containers(40_000, "ghcr.io/x/" + "y" * 40))
    started = time.perf_counter()
    verdict = handle(review, VIEW)
    took = time.perf_counter() - started
    assert verdict.outcome == "too_large"
    assert took < 0.05, f"{took:.3f}s"


@pytest.mark.parametrize(
    "obj",
    [None, [], {"spec": None}, {"spec": {"containers": "x"}}, {"spec": {"containers": [1, None]}}],
)
def test_malformed_pods_are_left_to_read_pod(obj: Any) -> None:
    assert oversize(obj) is None
