"""Repair and the missing-credentials detector read the same pending pods through one list and
watch: the leader's wiring opens one when either or both are on, and each LIST and event reaches
every reader, a LIST walked once."""

import argparse
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes import client

from app.core.credentials.scope import ScopeSettings
from app.shell.cli.serve import leader_work
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup
from app.shell.cluster.missing import MissingCredentials
from app.shell.cluster.pending import PENDING, PendingPods, fan_out
from app.shell.cluster.reflector import Watcher
from app.shell.cluster.repair import Repairer
from app.shell.cluster.replicator import Replicator
from tests.kit import objects
from tests.unit.fake_call import FakeCall, Page, Stream, run


def flags(**on: bool) -> argparse.Namespace:
    """`serve`'s flags that choose the leader's work, everything off but `on`."""
    chosen = {"replicate": False, "repair": False, "detect_missing": False, **on}
    return argparse.Namespace(
        admission="webhook", repair_after=60.0, repair_rate=10, unserved_namespaces=None, **chosen
    )


def setup() -> LeaderSetup:
    return LeaderSetup(
        client.ApiClient(), Index(ScopeSettings("home")), threading.Event(), lambda: True
    )


def failing(name: str, version: str) -> dict[str, Any]:
    """A pending pod as the API server sends it, failing to pull."""
    pod = objects.pod("a", "quay.io/x:1", name=name, uid=name, waiting={"c0": "ErrImagePull"})
    pod["metadata"]["resourceVersion"] = version
    return pod


@pytest.mark.parametrize(
    ("on", "work"),
    [
        ({"repair": True, "detect_missing": True}, [Repairer, MissingCredentials, PendingPods]),
        ({"repair": True}, [Repairer, PendingPods]),
        ({"detect_missing": True}, [MissingCredentials, PendingPods]),
        ({"replicate": True}, [Replicator]),
    ],
)
def test_one_pending_pods_watch_when_either_reader_is_on(
    on: dict[str, bool], work: list[Any]
) -> None:
    built = leader_work(flags(**on), setup())
    assert [type(w) for w in built] == work
    assert sum(isinstance(w, Watcher) for w in built) == (PendingPods in work)


def test_both_readers_are_fed_by_one_list_and_one_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    call = FakeCall(
        Page([failing("old", "1")], version="1"),
        Stream([{"type": "ADDED", "object": failing("new", "2")}]),
    )
    monkeypatch.setattr(
        client.CoreV1Api, "list_pod_for_all_namespaces", lambda _core, **params: call(**params)
    )
    repairer, missing, pending = leader_work(flags(repair=True, detect_missing=True), setup())
    assert isinstance(repairer, Repairer)
    assert isinstance(missing, MissingCredentials)
    assert isinstance(pending, PendingPods)
    call.watcher = pending
    run(pending)
    assert call.mismatch is None
    assert (len(call.lists), len(call.watches)) == (1, 1)
    assert {c["field_selector"] for c in call.calls} == {PENDING}
    assert [p["metadata"]["name"] for p, _ in repairer.pods.failing()] == ["old", "new"]
    assert [p["metadata"]["name"] for p in missing.pods.take()] == ["new"]
    assert repairer.listed()


class Recorder:
    """A reader that notes what it is handed, in the order shared with the list it reads."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    @contextmanager
    def relisting(self) -> Iterator[Callable[[dict[str, Any]], None]]:
        self.log.append(f"{self.name} relist")
        yield lambda pod: self.log.append(f"{self.name} {pod['metadata']['name']}")
        self.log.append(f"{self.name} listed")

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        self.log.append(f"{self.name} {kind} {obj['metadata']['name']}")


def test_a_list_is_walked_once_each_pod_to_every_reader_in_turn() -> None:
    log: list[str] = []

    def pods() -> Iterator[dict[str, Any]]:
        for name in ("a", "b"):
            log.append(f"read {name}")
            yield {"metadata": {"name": name}}

    apply = fan_out([Recorder("stuck", log), Recorder("new", log)])
    apply("LIST", pods())
    apply("DELETED", {"metadata": {"name": "a"}})
    assert log == [
        "stuck relist",
        "new relist",
        "read a",  # one pod held at a time, whatever the number of readers
        "stuck a",
        "new a",
        "read b",
        "stuck b",
        "new b",
        "new listed",
        "stuck listed",
        "stuck DELETED a",
        "new DELETED a",
    ]


def test_a_list_cut_short_is_not_whole_for_any_reader() -> None:
    log: list[str] = []

    def pods() -> Iterator[dict[str, Any]]:
        yield {"metadata": {"name": "a"}}
        raise ConnectionError("the next page")

    with pytest.raises(ConnectionError):
        fan_out([Recorder("stuck", log), Recorder("new", log)])("LIST", pods())
    assert log == ["stuck relist", "new relist", "stuck a", "new a"]
