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
