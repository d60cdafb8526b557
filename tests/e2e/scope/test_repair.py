"""Repair against the real API server, under the chart's RBAC with `repair.enabled`.

No kubelet here: a pull failure is written through the status subresource, as a kubelet would
write it, on pods a Deployment made before their namespace's credential existed (what an outage
in which pullpass failed open leaves behind). An unscheduled pod goes at once when evicted, and
its ReplicaSet makes a replacement, which the webhook now gives the credential.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation, chart
from tests.kit import objects
from tests.kit.chart import access_objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
    unique,
)
from tests.kit.metrics import metric

REGISTRY = "repair.registry.example"
IMAGE = f"{REGISTRY}/team/web:1"
UNSERVED = "unserved.registry.example/team/web:1"
AFTER = 5  # seconds
RATE = 3  # a minute: one token every 20 s
REASON = "PullCredentialRepair"


@pytest.fixture
def repairing(installation: Installation, kubectl: Kubectl) -> Iterator[Pullpass]:
    """A fresh replica (a full token bucket) from the chart with repair on, its RBAC applied."""
    objects = chart({"repair": {"enabled": True, "after": AFTER, "rate": RATE}})
    for obj in access_objects(objects):
        kubectl.apply(obj)
    try:
        yield installation.switch("pullpass-repair", objects)
    finally:
        installation.stop_all()
        for obj in access_objects(installation.objects):
            kubectl.apply(obj)


def outage(
    kubectl: Kubectl, passwords: Passwords, replicas: int, *, bare: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """An enabled namespace whose Deployment's pods (and a bare pod) were admitted before its
    credential existed; then the credential, so pullpass would add it now."""
    namespace = create_namespace(kubectl, unique("repair"))
    kubectl("create", "deployment", "web", "-n", namespace, f"--image={IMAGE}",
            f"--replicas={replicas}")  # fmt: skip
    pods = eventually(
        lambda: len(items := web_pods(kubectl, namespace)) == replicas and items,
        60,
        f"the Deployment's {replicas} pods",
        every=0.3,
    )
    if bare:
        pods.append(apply_pod(kubectl, objects.pod(namespace, IMAGE, name="bare")))
    assert all(not pull_secrets(p) for p in pods)
    docker_registry_secret(kubectl, passwords, namespace, "reg", REGISTRY)
    return namespace, pods


def web_pods(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", "app=web")[
        "items"
    ]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def fail_pulling(kubectl: Kubectl, pod: dict[str, Any]) -> None:
    """Write the kubelet's ImagePullBackOff into the pod's status."""
    container = pod["spec"]["containers"][0]
    status = {
        "status": {
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "401"}},
                }
            ]
        }
    }
    meta = pod["metadata"]
    kubectl("patch", "pod", meta["name"], "-n", meta["namespace"], "--subresource=status",
            "--type=merge", "-p", json.dumps(status))  # fmt: skip


def uids(kubectl: Kubectl, namespace: str) -> set[str]:
    items = kubectl.json("get", "pods", "-n", namespace)["items"]
    return {p["metadata"]["uid"] for p in items if not p["metadata"].get("deletionTimestamp")}


def repair_events(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json("get", "events", "-n", namespace)["items"]
    return [e for e in items if e["reason"] == REASON]


def evicted(replica: Pullpass) -> float:
    return metric(replica.metrics_text(), "pullpass_repair_evictions_total", outcome="evicted")


def pod_watches(replica: Pullpass) -> dict[str, float]:
    """The replica's watches of pods by `resource`, each 1 once in sync."""
    found = re.findall(
        r'^pullpass_watch_in_sync\{resource="(pods[^"]*)"\} (\S+)$', replica.metrics_text(), re.M
    )
    return {resource: float(value) for resource, value in found}


def test_repair_and_the_detector_share_one_watch_of_pending_pods(repairing: Pullpass) -> None:
    """The chart's detectMissing is on by default: with repair on too, one list and watch of
    pending pods feeds both, not one each."""
    logged = [json.loads(line) for line in repairing.logs().splitlines() if line.startswith("{")]
    started = next(entry for entry in logged if entry["msg"] == "starting")
    assert (started["repair"], started["detect_missing"]) == (True, True)
    eventually(
        lambda: pod_watches(repairing) == {"pods-pending": 1.0}, 10, "one pending pods watch"
    )


def test_stuck_controller_pods_are_evicted_and_return_with_the_credential(
    kubectl: Kubectl,
    repairing: Pullpass,
    passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, pods = outage(kubectl, passwords, 2, bare=True)
    # Owned by a ReplicaSet too, but no credential in scope serves its image.
    kubectl("create", "deployment", "unserved", "-n", namespace, f"--image={UNSERVED}")
    other = eventually(
        lambda: kubectl.json("get", "pods", "-n", namespace, "-l", "app=unserved")["items"],
        60,
        "the unserved Deployment's pod",
        every=0.3,
    )[0]
    stuck = {p["metadata"]["uid"] for p in pods if p["metadata"]["name"] != "bare"}
    kept = uids(kubectl, namespace) - stuck
    for pod in [*pods, other]:
        fail_pulling(kubectl, pod)
    failing = time.monotonic()

    eventually(lambda: not stuck & uids(kubectl, namespace), AFTER + 15, "the evictions")
    seconds = time.monotonic() - failing
    replacements = eventually(
        lambda: len(items := web_pods(kubectl, namespace)) == 2 and items, 30, "replacements"
    )
    assert all(pull_secrets(p) == ["reg"] for p in replacements), replacements
    assert AFTER - 0.5 <= seconds <= AFTER + 5, seconds
    time.sleep(2 * 1.0 + 1)  # two more repair passes: the bare and unserved pods stay
    assert kept <= uids(kubectl, namespace), "a bare or unserved pod was evicted"

    owner = pods[0]["metadata"]["ownerReferences"][0]
    events = eventually(
        lambda: len(e := repair_events(kubectl, namespace)) == 2 and e, 10, "Events"
    )
    for event in events:
        assert event["type"] == "Normal"
        about = event["involvedObject"]
        assert (about["kind"], about["name"], about["uid"]) == ("ReplicaSet", owner["name"],
                                                                 owner["uid"])  # fmt: skip
        assert "reg" in event["message"]
    assert evicted(repairing) == 2.0
    assert repairing.logs().count('"pod evicted"') == 2
    with capsys.disabled():
        print(f"\nrepair (after {AFTER}s): stuck pods gone {seconds:.2f}s after failing")


def test_at_most_repair_rate_a_minute(
    kubectl: Kubectl,
    repairing: Pullpass,
    passwords: Passwords,
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, pods = outage(kubectl, passwords, RATE + 1)
    stuck = {p["metadata"]["uid"] for p in pods}
    for pod in pods:
        fail_pulling(kubectl, pod)

    def left() -> int:
        return len(stuck & uids(kubectl, namespace))

    eventually(lambda: left() == 1, AFTER + 15, f"{RATE} evictions")
    burst = time.monotonic()
    interval = 60 / RATE
    time.sleep(interval - 4)
    assert left() == 1, "the rate limit let a pod through early"
    eventually(lambda: left() == 0, 10, "the next token's eviction")
    gap = time.monotonic() - burst
    assert evicted(repairing) == RATE + 1
    with capsys.disabled():
        print(f"\nrepair rate {RATE}/min: pod {RATE + 1} evicted {gap:.2f}s after the burst")


def test_a_disruption_budget_does_not_hold_a_pending_pod(
    kubectl: Kubectl, repairing: Pullpass, passwords: Passwords
) -> None:
    """The API server lets a Pending pod's eviction through whatever the budget says: it runs
    nothing yet, so removing it disrupts nothing. So a budget never blocks repair."""
    namespace, pods = outage(kubectl, passwords, 1)
    kubectl("create", "poddisruptionbudget", "web", "-n", namespace, "--selector=app=web",
            "--max-unavailable=0")  # fmt: skip
    eventually(
        lambda: (
            kubectl.json("get", "pdb", "web", "-n", namespace)
            .get("status", {})
            .get("observedGeneration")
        ),
        30,
        "the disruption controller to judge the budget",
    )
    fail_pulling(kubectl, pods[0])
    uid = pods[0]["metadata"]["uid"]
    eventually(lambda: uid not in uids(kubectl, namespace), AFTER + 15, "the eviction")
    assert evicted(repairing) == 1.0
    blocked = metric(repairing.metrics_text(), "pullpass_repair_evictions_total", outcome="blocked")
    assert blocked == 0.0


def test_without_repair_stuck_pods_stay(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace, pods = outage(kubectl, passwords, 1)
    fail_pulling(kubectl, pods[0])
    time.sleep(AFTER + 3)
    assert pods[0]["metadata"]["uid"] in uids(kubectl, namespace)
    assert (
        "pullpass_repair"
        not in pullpass.metrics_text().replace("pullpass_repair_evictions_total", "")
        or evicted(pullpass) == 0.0
    )
    assert list(pod_watches(pullpass)) == ["pods-pending"], "the detector's watch, alone"
