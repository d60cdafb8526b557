"""When repair's clock starts for a pod: first seen failing, kept across relists, reset when the
pod stops failing or is replaced under the same name."""

from typing import Any

from app.shell.cluster.pending import fan_out
from app.shell.cluster.repair import StuckPods
from tests.kit import objects


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pod(name: str, reason: str | None = "ImagePullBackOff", uid: str = "u1") -> dict[str, Any]:
    """A pod as a watch delivers it, managedFields included (what the stuck set must drop)."""
    manifest = objects.pod("a", "quay.io/x:1", name=name, uid=uid, waiting={"c0": reason or ""})
    if reason is None:
        manifest["status"]["containerStatuses"][0]["state"] = {"running": {}}
    manifest["metadata"]["managedFields"] = [{}]
    return manifest


def since(pods: StuckPods) -> dict[str, float]:
    return {p["metadata"]["name"]: t for p, t in pods.failing()}


def test_only_failing_pods_are_kept_from_when_first_seen_failing() -> None:
    clock = Clock()
    pods = StuckPods(clock)
    fan_out([pods])("LIST", [pod("a"), pod("b", reason="ContainerCreating"), pod("c", reason=None)])
    assert since(pods) == {"a": 100.0}
    clock.now = 105.0
    pods.apply("MODIFIED", pod("b", reason="ErrImagePull"))
    pods.apply("MODIFIED", pod("a", reason="ErrImagePull"))  # still failing: the clock runs on
    assert since(pods) == {"a": 100.0, "b": 105.0}
    assert "managedFields" not in pods.failing()[0][0]["metadata"]


def test_a_relist_keeps_the_clocks_and_drops_the_pods_gone() -> None:
    clock = Clock()
    pods = StuckPods(clock)
    fan_out([pods])("LIST", [pod("a"), pod("b")])
    clock.now = 200.0
    fan_out([pods])("LIST", [pod("a")])
    assert since(pods) == {"a": 100.0}


def test_recovering_or_a_new_pod_under_the_name_starts_again() -> None:
    clock = Clock()
    pods = StuckPods(clock)
    pods.apply("ADDED", pod("a"))
    clock.now = 110.0
    pods.apply("MODIFIED", pod("a", reason=None))
    assert since(pods) == {}
    pods.apply("MODIFIED", pod("a"))
    assert since(pods) == {"a": 110.0}
    clock.now = 120.0
    pods.apply("ADDED", pod("a", uid="u2"))  # a StatefulSet's pod, recreated under its name
    assert since(pods) == {"a": 120.0}
    pods.apply("DELETED", pod("a", uid="u2"))  # deleted, or no longer Pending
    assert since(pods) == {}


def test_longest_failing_first() -> None:
    clock = Clock()
    pods = StuckPods(clock)
    for name in ("c", "a", "b"):
        clock.now += 1
        pods.apply("ADDED", pod(name))
    assert [p["metadata"]["name"] for p, _ in pods.failing()] == ["c", "a", "b"]
