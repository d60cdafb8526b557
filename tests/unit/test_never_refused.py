"""pullpass never makes the API server refuse a pod that it would admit without pullpass.

Plain-data checks of the decision for each way a patch could get a pod refused: a strict
ServiceAccount, a ServiceAccount not indexed yet, a mirror pod, the annotation size limit.
"""

import base64
import json
from typing import Any

import jsonpatch
import pytest
from kubernetes import client

from app.core.admission.handle import WARNING_LIMIT, handle
from app.core.admission.patch import ANNOTATIONS_LIMIT
from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings
from app.core.credentials.serviceaccount import (
    ENFORCE_MOUNTABLE_SECRETS,
    ServiceAccountInfo,
    service_account_from_object,
)
from app.shell.cluster.feed import Feed
from app.shell.cluster.index import Index
from tests.kit.objects import pod

NS = "a"
IMAGES = ("quay.io/team/app:1", "ghcr.io/org/tool:2")


def index(*accounts: ServiceAccountInfo, fixed: bool = False) -> Index:
    built = Index(ScopeSettings("home"), fixed=fixed)
    built.put_namespace(NamespaceInfo(NS, {"pullpass.io/inject": "enabled"}))
    for name, key in (("ghcr", "ghcr.io"), ("quay", "quay.io")):
        built.put_credential(Credential(NS, name, "kubernetes.io/dockerconfigjson", {}, {}, (key,)))
    for account in accounts:
        built.put_service_account(account)
    return built


def strict(name: str, *pull_secrets: str, value: str = "true") -> ServiceAccountInfo:
    return ServiceAccountInfo(NS, name, value, pull_secrets)


def review(obj: dict[str, Any], **extra: Any) -> Any:
    request = {
        "uid": "u",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": NS,
        "object": obj,
    }
    return request | extra


def with_account(obj: dict[str, Any], name: str) -> dict[str, Any]:
    obj["spec"]["serviceAccountName"] = name
    return obj


def decide(obj: dict[str, Any], view: Index) -> tuple[dict[str, Any], list[str]]:
    """The pod as the API server stores it after the patch, and the warnings."""
    response = handle(review(obj), view).response
    ops = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    warnings = response.get("warnings", [])
    assert all(len(w) <= WARNING_LIMIT for w in warnings)
    return jsonpatch.apply_patch(obj, ops), warnings


def names(obj: dict[str, Any]) -> list[str]:
    return [ref["name"] for ref in obj["spec"].get("imagePullSecrets") or ()]


def test_a_strict_service_account_gets_only_the_names_it_lists() -> None:
    view = index(strict("builder", "sa-own", "quay"))
    obj = with_account(pod(NS, *IMAGES, pull_secrets=("sa-own",)), "builder")

    stored, warnings = decide(obj, view)

    assert names(stored) == ["sa-own", "quay"]
    assert stored["metadata"]["annotations"]["pullpass.io/injected"] == "quay"
    assert warnings == ["pullpass: ServiceAccount builder does not list ghcr, so it is not added"]


@pytest.mark.parametrize("value", ["true", "1", "t", "T", "TRUE", "True"])
def test_every_spelling_go_reads_as_true_is_strict(value: str) -> None:
    view = index(strict("builder", value=value))
    stored, warnings = decide(with_account(pod(NS, *IMAGES), "builder"), view)
    assert names(stored) == []
    assert len(warnings) == 2


@pytest.mark.parametrize("value", ["false", "0", "yes", "", None])
def test_other_values_restrict_nothing(value: str | None) -> None:
    view = index(strict("builder", value=value))  # type: ignore[arg-type]
    stored, warnings = decide(with_account(pod(NS, *IMAGES), "builder"), view)
    assert names(stored) == ["ghcr", "quay"]
    assert warnings == []


def test_a_pod_without_a_service_account_name_is_judged_by_default() -> None:
    view = index(strict("default", "ghcr"))
    stored, _ = decide(pod(NS, *IMAGES), view)
    assert names(stored) == ["ghcr"]


def test_a_service_account_not_indexed_yet_gets_nothing_added() -> None:
    """A watched index that has not seen the ServiceAccount cannot know it is not strict."""
    stored, warnings = decide(with_account(pod(NS, *IMAGES), "new"), index())
    assert names(stored) == []
    assert sorted(warnings) == [
        f"pullpass: ServiceAccount new not indexed yet; {name} not added"
        for name in ("ghcr", "quay")
    ]


def test_a_fixed_index_takes_an_absent_service_account_as_ordinary() -> None:
    stored, warnings = decide(with_account(pod(NS, *IMAGES), "new"), index(fixed=True))
    assert names(stored) == ["ghcr", "quay"]
    assert warnings == []


def test_a_mirror_pod_gets_no_patch() -> None:
    """The API server refuses a mirror (static) pod that names any Secret."""
    obj = pod(NS, *IMAGES, annotations={"kubernetes.io/config.mirror": "abc"})
    verdict = handle(review(obj), index(fixed=True))
    assert "patch" not in verdict.response
    assert verdict.reason == "mirror pod"


def annotations_of_total(total: int) -> dict[str, str]:
    return {"big": "x" * (total - len("big"))}


def test_the_record_annotation_is_dropped_rather_than_pass_the_size_limit() -> None:
    room = len("pullpass.io/injected") + len("ghcr,quay")
    fits = pod(NS, *IMAGES, annotations=annotations_of_total(ANNOTATIONS_LIMIT - room))
    stored, warnings = decide(fits, index(fixed=True))
    assert stored["metadata"]["annotations"]["pullpass.io/injected"] == "ghcr,quay"
    assert warnings == []

    full = pod(NS, *IMAGES, annotations=annotations_of_total(ANNOTATIONS_LIMIT - room + 1))
    stored, warnings = decide(full, index(fixed=True))
    assert names(stored) == ["ghcr", "quay"]
    assert "pullpass.io/injected" not in stored["metadata"]["annotations"]
    assert len(warnings) == 1
    assert "256 KiB" in warnings[0]


def test_an_earlier_record_is_not_counted_twice_against_the_limit() -> None:
    room = len("pullpass.io/injected") + len("ghcr,quay")
    annotations = annotations_of_total(ANNOTATIONS_LIMIT - room)
    annotations["pullpass.io/injected"] = "ghcr"
    obj = pod(NS, *IMAGES, pull_secrets=("ghcr",), annotations=annotations)
    stored, _ = decide(obj, index(fixed=True))
    assert stored["metadata"]["annotations"]["pullpass.io/injected"] == "ghcr,quay"


def test_a_null_annotations_map_is_created() -> None:
    obj = pod(NS, *IMAGES)
    obj["metadata"]["annotations"] = None
    stored, _ = decide(obj, index(fixed=True))
    assert stored["metadata"]["annotations"] == {"pullpass.io/injected": "ghcr,quay"}


def test_the_index_keeps_only_name_annotation_and_pull_secret_names() -> None:
    idx = Index(ScopeSettings("home"))
    feed = Feed(client.ApiClient(client.Configuration()), idx)
    obj = {
        "metadata": {
            "namespace": NS,
            "name": "builder",
            "annotations": {
                ENFORCE_MOUNTABLE_SECRETS: "true",
                "kubectl.kubernetes.io/last-applied-configuration": "{...token...}",
            },
            "labels": {"team": "a"},
        },
        "secrets": [{"name": "builder-token"}],
        "imagePullSecrets": [{"name": "quay"}, {}],
    }
    accounts = [w for w in feed.watchers if w.resource == "serviceaccounts"]
    assert len(accounts) == 1
    accounts[0]._apply("LIST", [obj])
    assert idx.service_account(NS, "builder") == ServiceAccountInfo(
        NS, "builder", "true", ("quay",)
    )
    assert service_account_from_object(obj) == idx.service_account(NS, "builder")
    accounts[0]._apply("DELETED", obj)
    assert idx.service_account(NS, "builder") is None
