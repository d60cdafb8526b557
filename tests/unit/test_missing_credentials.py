"""Fail-open made visible: which new pods the leader reports as admitted without the credentials
pullpass would have added, and which pods count as new."""

from typing import Any

from app.core.audit.missing import Missing, judge
from app.shell.cluster.missing import NewPods
from app.shell.cluster.pending import fan_out
from tests.kit import objects
from tests.unit.test_repair import VIEW

UNSERVED = ("kube-system", "pullpass-system")


def pod(name: str = "p", namespace: str = "a", uid: str = "u1", **kw: Any) -> dict[str, Any]:
    manifest = objects.pod(namespace, "quay.io/team/app:1", name=name, uid=uid, **kw)
    manifest["metadata"]["managedFields"] = [{}]
    return manifest


def test_a_pod_without_the_credential_it_would_get_is_reported() -> None:
    assert judge(pod(), VIEW, UNSERVED) == Missing("a", "p", "u1", ("quay",))


def test_not_reported() -> None:
    assert judge(pod(pull_secrets=["quay"]), VIEW, UNSERVED) is None  # it has it
    assert judge(pod(labels={"pullpass.io/inject": "disabled"}), VIEW, UNSERVED) is None
    assert judge(pod(namespace="off"), VIEW, UNSERVED) is None  # not enabled
    assert judge(objects.pod("a", "docker.io/library/nginx:1", uid="u"), VIEW, UNSERVED) is None
    mirror = pod(annotations={"kubernetes.io/config.mirror": "x"})
    assert judge(mirror, VIEW, UNSERVED) is None  # a static pod: the API server never asks
    assert judge(pod(), VIEW, ("a",)) is None  # the webhook is never called there
    assert judge({"kind": "Pod", "metadata": {"namespace": "a"}, "spec": 7}, VIEW, ()) is None


def uids(pods: NewPods) -> list[str]:
    return [p["metadata"]["uid"] for p in pods.take()]


def test_the_first_list_is_what_exists_not_what_is_new() -> None:
    pods = NewPods()
    fan_out([pods])("LIST", [pod(uid="old")])
    assert uids(pods) == []
    assert not pods.arrived.is_set()
    pods.apply("ADDED", pod(uid="new"))
    assert pods.arrived.is_set()
    taken = pods.take()
    assert [p["metadata"]["uid"] for p in taken] == ["new"]
    assert "managedFields" not in taken[0]["metadata"]  # kept slim
    assert uids(pods) == []


def test_each_pod_is_new_once_whatever_the_events() -> None:
    pods = NewPods()
    fan_out([pods])("LIST", [])
    pods.apply("ADDED", pod(uid="n"))
    pods.apply("ADDED", pod(uid="n"))
    pods.apply("MODIFIED", pod(uid="n"))
    pods.apply("MODIFIED", pod(uid="seen-first-modified"))  # not a creation
    assert uids(pods) == ["n"]


def test_a_relist_after_a_lost_watch_brings_the_pods_created_meanwhile() -> None:
    pods = NewPods()
    fan_out([pods])("LIST", [pod(uid="a")])
    pods.apply("DELETED", pod(uid="a"))  # running now, or deleted
    fan_out([pods])("LIST", [pod(uid="b"), pod(uid="c", name="q")])
    assert uids(pods) == ["b", "c"]
    fan_out([pods])("LIST", [pod(uid="b")])
    assert uids(pods) == []


def test_the_backlog_is_bounded() -> None:
    pods = NewPods(backlog=3)
    fan_out([pods])("LIST", [])
    for i in range(5):
        pods.apply("ADDED", pod(uid=f"u{i}", name=f"p{i}"))
    assert uids(pods) == ["u2", "u3", "u4"]


def test_below_the_cap_every_pending_pod_is_known() -> None:
    pods = NewPods(known=3)
    fan_out([pods])("LIST", [pod(uid="a")])
    pods.apply("ADDED", pod(uid="b"))
    pods.apply("MODIFIED", pod(uid="c"))
    assert uids(pods) == ["b"]
    fan_out([pods])("LIST", [pod(uid="a"), pod(uid="b"), pod(uid="c")])
    assert uids(pods) == []  # all three still known: none is new


def test_a_flood_of_pending_pods_keeps_at_most_the_cap_the_longest_known_forgotten() -> None:
    """A tenant keeps thousands of pods Pending: each is new once, no more than `known` uids are
    held, and the one forgotten costs only a second judgement if a relist finds it again."""
    pods = NewPods(backlog=5_000, known=100)
    fan_out([pods])("LIST", [])
    flood = [pod(uid=f"u{i}", name=f"p{i}") for i in range(5_000)]
    for each in flood:
        pods.apply("ADDED", each)
        pods.apply("MODIFIED", each)
    assert len(pods._known) == 100
    assert uids(pods) == [f"u{i}" for i in range(5_000)]
    pods.apply("ADDED", flood[-1])  # among the latest: still known
    pods.apply("MODIFIED", flood[0])  # forgotten, but only a creation makes a pod new
    assert uids(pods) == []
    assert len(pods._known) == 100
    fan_out([pods])("LIST", [flood[1], *flood[-99:]])
    assert uids(pods) == ["u1"]  # forgotten long ago: new again to a relist
    assert len(pods._known) == 100
