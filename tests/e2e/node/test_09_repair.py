"""Repair on the real node. An outage (pullpass scaled to 0) leaves a Deployment's pods, and a
bare pod, admitted without their credential and stuck in ImagePullBackOff, as in test_08. With
repair on (`helm upgrade --set repair.enabled=true,repair.after=10`) the Deployment's pods run
within repair-after plus a few seconds of pullpass returning: the leader evicts them, their
ReplicaSet recreates them through the webhook, the kubelet pulls with the credential. With
repair off they stay stuck. A bare pod is never evicted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localcluster.kubectl import Kubectl
from localcluster.release import CHART, NAMESPACE, RELEASE, Release
from tests.e2e.node.actions import (
    Stuck,
    get_pod,
    outage,
    pods_of,
    still_stuck,
    wait_running,
    waiting_reasons,
)
from tests.e2e.node.fixtures import report
from tests.kit.eventually import eventually
from tests.kit.kubectl import pull_secrets

AFTER = 10  # repair.after, seconds
# After repair-after: the kubelet's graceful stop of the evicted pod, the replacement's pull and
# start, and the repair pass's one-second tick.
FEW_SECONDS = 15
REPLICAS = 2


def helm_set(release: Release, values: str) -> None:
    """`helm upgrade --reuse-values --set VALUES`, then both replicas Ready and called."""
    release.node.helm(
        "upgrade", RELEASE, str(CHART), "--namespace", NAMESPACE, "--reuse-values",
        "--set", values, "--wait", "--timeout=300s", timeout=330,
    )  # fmt: skip
    release.wait_ready(2)


@pytest.fixture(scope="module")
def repair_on(release: Release) -> Iterator[Release]:
    helm_set(release, f"repair.enabled=true,repair.after={AFTER}")
    try:
        yield release
    finally:
        helm_set(release, "repair.enabled=false")


@pytest.fixture
def stuck(
    pullpass: Release,
    namespace_with_credential: Callable[[str], tuple[str, str]],
    tmp_path: Path,
) -> Stuck:
    """An outage's stuck pods: a bare pod and the Deployment's REPLICAS (after `repair_on`, when
    a test asks for both: module fixtures come first)."""
    return outage(pullpass, namespace_with_credential, tmp_path, "repair", REPLICAS)


def test_with_repair_off_they_stay_stuck(stuck: Stuck, kubectl: Kubectl) -> None:
    time.sleep(max(0.0, stuck.returned + AFTER + FEW_SECONDS - time.monotonic()))
    pods = pods_of(kubectl, stuck.namespace, "app=web")
    assert {p["metadata"]["uid"] for p in pods} == stuck.web
    assert all(still_stuck(p) for p in pods), [waiting_reasons(p) for p in pods]
    listed = kubectl.json("get", "events", "-n", stuck.namespace)["items"]
    assert not [e for e in listed if e["reason"] == "PullCredentialRepair"]


def test_with_repair_on_they_run_within_repair_after(
    repair_on: Release, stuck: Stuck, kubectl: Kubectl
) -> None:

    def replaced_and_running() -> bool:
        pods = pods_of(kubectl, stuck.namespace, "app=web")
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        return (
            len(live) == REPLICAS
            and not {p["metadata"]["uid"] for p in pods} & stuck.web
            and all(p["status"].get("phase") == "Running" for p in live)
        )

    eventually(replaced_and_running, AFTER + 60, "the Deployment's pods to run", every=0.5)
    seconds = time.monotonic() - stuck.returned
    report(
        f"repair (after {AFTER}s): the Deployment's {REPLICAS} stuck pods Running "
        f"{seconds:.1f}s after pullpass returned"
    )
    for pod in pods_of(kubectl, stuck.namespace, "app=web"):
        assert pull_secrets(pod) == ["registry"]
        wait_running(kubectl, stuck.namespace, pod["metadata"]["name"])
    assert seconds <= AFTER + FEW_SECONDS, seconds
    listed = kubectl.json("get", "events", "-n", stuck.namespace)["items"]
    repairs = [e for e in listed if e["reason"] == "PullCredentialRepair"]
    assert len(repairs) == REPLICAS, repairs
    assert {e["involvedObject"]["kind"] for e in repairs} == {"ReplicaSet"}


def test_a_bare_pod_is_never_evicted(repair_on: Release, stuck: Stuck, kubectl: Kubectl) -> None:
    # Repair acts in this namespace (the Deployment's pods go), the bare pod stays stuck.
    eventually(
        lambda: (
            not {p["metadata"]["uid"] for p in pods_of(kubectl, stuck.namespace, "app=web")}
            & stuck.web
        ),
        AFTER + 60,
        "the Deployment's pods to be evicted",
        every=0.5,
    )
    time.sleep(5)
    bare = get_pod(kubectl, stuck.namespace, "bare")
    assert bare["metadata"]["uid"] == stuck.bare
    assert not bare["metadata"].get("deletionTimestamp")
    assert still_stuck(bare), waiting_reasons(bare)
