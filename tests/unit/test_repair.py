"""Repair's decision and rate limit on plain data: who is evicted, when, and how many a minute."""

from typing import Any

import pytest

from app.core.credentials.credential import Credential
from app.core.credentials.match import MatchTable
from app.core.credentials.scope import Scoped
from app.core.credentials.serviceaccount import ServiceAccountInfo, ordinary
from app.core.images.reference import ImageName
from app.core.repair.bucket import Bucket
from app.core.repair.stuck import Eviction, decide, failing_images, slim

AFTER = 60.0
RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "rs-uid"}


class View:
    """Namespace `a` is enabled with a quay.io credential; `off` is not."""

    def __init__(self, strict: bool = False) -> None:
        credential = Credential("a", "quay", "kubernetes.io/dockerconfigjson", {}, {}, ("quay.io",))
        self.tables = {"a": MatchTable([Scoped("quay", "namespace", credential)])}
        self.strict = strict

    def table(self, namespace: str) -> MatchTable | None:
        return self.tables.get(namespace)

    def serves_anywhere(self, image: ImageName) -> bool:
        return False

    def service_account(self, namespace: str, name: str) -> ServiceAccountInfo | None:
        if self.strict:
            return ServiceAccountInfo(namespace, name, "true", ())
        return ordinary(namespace, name)


VIEW = View()


def stuck_pod(
    image: str = "quay.io/team/web:1",
    *,
    namespace: str = "a",
    owner: dict[str, Any] | None = RS,
    reason: str = "ImagePullBackOff",
    secrets: tuple[str, ...] = (),
    pod_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "web-1-x",
        "namespace": namespace,
        "uid": "pod-uid",
        "labels": {"app": "web", **(pod_labels or {})},
        "annotations": {"big": "x" * 1000},
        "managedFields": [{"manager": "kube-controller-manager"}],
    }
    if owner is not None:
        metadata["ownerReferences"] = [{**owner, "controller": True, "blockOwnerDeletion": True}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [{"name": "web", "image": image, "env": [{"name": "A", "value": "1"}]}],
            "imagePullSecrets": [{"name": s} for s in secrets],
            "serviceAccountName": "default",
            "nodeName": "node-1",
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": image,
                    "ready": False,
                    "state": {"waiting": {"reason": reason, "message": "401 Unauthorized"}},
                }
            ],
        },
    }


def due(pod: dict[str, Any], view: Any = VIEW, since: float | None = 0.0) -> Eviction | None:
    return decide(slim(pod), since, AFTER, AFTER, view)


def test_a_replica_set_pod_stuck_on_a_served_image_is_evicted() -> None:
    assert due(stuck_pod()) == Eviction(
        "a", "web-1-x", "pod-uid", RS, ("quay",), ("quay.io/team/web:1",)
    )


@pytest.mark.parametrize("kind", ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"])
def test_every_controller_that_recreates_its_pods(kind: str) -> None:
    eviction = due(stuck_pod(owner={**RS, "kind": kind}))
    assert eviction is not None
    assert eviction.owner["kind"] == kind


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_both_pull_failures(reason: str) -> None:
    assert due(stuck_pod(reason=reason)) is not None


def test_never_a_bare_pod_or_one_another_kind_controls() -> None:
    assert due(stuck_pod(owner=None)) is None
    assert due(stuck_pod(owner={**RS, "kind": "Node"})) is None  # a mirror pod's owner
    assert due(stuck_pod(owner={**RS, "kind": "Widget"})) is None


def test_a_non_controller_owner_does_not_count() -> None:
    pod = stuck_pod(owner=None)
    pod["metadata"]["ownerReferences"] = [{**RS, "controller": False}]
    assert due(pod) is None


def test_never_when_no_credential_in_scope_serves_the_failing_image() -> None:
    assert due(stuck_pod("docker.io/library/nginx:1")) is None


def test_never_in_a_namespace_that_is_not_enabled() -> None:
    assert due(stuck_pod(namespace="off")) is None


def test_never_when_the_pod_already_has_the_credential() -> None:
    assert due(stuck_pod(secrets=("quay",))) is None


def test_never_when_pullpass_would_not_add_it() -> None:
    assert due(stuck_pod(pod_labels={"pullpass.io/inject": "disabled"})) is None
    assert due(stuck_pod(), View(strict=True)) is None  # a strict ServiceAccount lists none


def test_never_when_not_failing_to_pull() -> None:
    assert due(stuck_pod(reason="ContainerCreating")) is None
    assert due(stuck_pod(reason="CrashLoopBackOff")) is None


def test_only_after_failing_for_repair_after_seconds() -> None:
    pod = slim(stuck_pod())
    assert decide(pod, None, 1000.0, AFTER, VIEW) is None
    assert decide(pod, 1000.0 - AFTER + 0.5, 1000.0, AFTER, VIEW) is None
    assert decide(pod, 1000.0 - AFTER, 1000.0, AFTER, VIEW) is not None


def test_slim_keeps_only_what_the_decision_reads() -> None:
    kept = slim(stuck_pod(pod_labels={"pullpass.io/inject": "enabled"}))
    assert kept == {
        "kind": "Pod",
        "metadata": {
            "namespace": "a",
            "name": "web-1-x",
            "uid": "pod-uid",
            "ownerReferences": [{**RS, "controller": True}],
            "labels": {"pullpass.io/inject": "enabled"},
        },
        "spec": {
            "initContainers": [],
            "containers": [{"name": "web", "image": "quay.io/team/web:1"}],
            "imagePullSecrets": [],
            "serviceAccountName": "default",
        },
        "status": {
            "initContainerStatuses": [],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": "quay.io/team/web:1",
                    "state": {"waiting": {"reason": "ImagePullBackOff"}},
                }
            ],
        },
    }
    assert failing_images(kept) == ("quay.io/team/web:1",)
    assert failing_images(slim(stuck_pod(reason="ContainerCreating"))) == ()


def test_slim_survives_odd_shapes() -> None:
    odd = {"metadata": {"name": 3, "ownerReferences": "x"}, "spec": [], "status": None}
    assert slim(odd)["metadata"] == {}
    assert decide(slim(odd), 0.0, AFTER, AFTER, VIEW) is None


def test_bucket_allows_a_burst_of_the_rate_then_the_rate_a_minute() -> None:
    bucket: Bucket | None = Bucket.full(3, 0.0)
    taken = 0
    assert bucket is not None
    while (after := bucket.take(0.0)) is not None:
        bucket, taken = after, taken + 1
    assert taken == 3
    assert bucket.take(19.9) is None
    refilled = bucket.take(20.0)  # one token every 60/3 seconds
    assert refilled is not None
    assert refilled.take(20.0) is None


def test_bucket_holds_the_rate_over_any_minute_after_the_first() -> None:
    bucket = Bucket.full(10, 0.0)
    times = []
    for tick in range(6000):  # ten minutes, one attempt every 0.1 s
        after = bucket.take(tick / 10)
        if after is not None:
            bucket = after
            times.append(tick / 10)
    assert len(times) == 10 + 99  # the burst, then one every 6 s up to 594 s
    for start in (t / 10 for t in range(5400)):
        in_window = sum(1 for t in times if start <= t < start + 60)
        assert in_window <= (20 if start < 60 else 10), start


def test_bucket_never_fills_past_the_rate_and_gives_back_a_refused_eviction() -> None:
    bucket = Bucket.full(2, 0.0).refilled(3600.0)
    assert bucket.tokens == 2.0
    one = bucket.take(3600.0)
    assert one is not None
    assert one.tokens == 1.0
    assert one.give_back().tokens == 2.0
    assert bucket.give_back().tokens == 2.0
