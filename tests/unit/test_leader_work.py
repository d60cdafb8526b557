"""The leader's workers wait for the Lease and the first full lists, and know a new Lease.

A pass before the first lists would delete what the index lacks; one on a follower would race
the leader; what a worker remembers from an earlier Lease may have been changed by another
leader meanwhile.
"""

import threading

from kubernetes import client

from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork


def worker(lists: list[bool]) -> LeaderWork:
    setup = LeaderSetup(
        client.ApiClient(), Index(ScopeSettings("home")), threading.Event(), lambda: lists[0]
    )
    return LeaderWork("test", setup)


def test_not_ready_without_the_lease_or_before_the_first_lists() -> None:
    lists = [False]
    work = worker(lists)
    assert not work.ready(0.01, 0.01), "no Lease"
    work.leading.set()
    assert not work.ready(0.01, 0.01), "the Lease, but not the first lists"
    lists[0] = True
    assert work.ready()


def test_took_lease_holds_once_per_lease() -> None:
    work = worker([True])
    work.leading.set()
    assert work.ready()
    assert work.took_lease(), "the first pass"
    assert work.ready()
    assert not work.took_lease()
    work.leading.clear()
    assert not work.ready()
    work.leading.set()
    assert work.ready()
    assert work.took_lease(), "a Lease again, after one lost"
    assert not work.took_lease()
