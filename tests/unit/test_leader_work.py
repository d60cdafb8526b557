"""The leader's workers wait for the Lease and the first full lists, and know a new Lease.

A pass before the first lists would delete what the index lacks; one on a follower would race
the leader; what a worker remembers from an earlier Lease may have been changed by another
leader meanwhile. The loop is written once, in LeaderWork: these tests drive it through a
worker that records what the loop asks of it.
"""

import logging
import threading

from kubernetes import client

from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.cluster.leader_work import LeaderSetup, LeaderWork, Pacing

FAST = Pacing(resync=0.05, retry=0.01, burst=0.0, poll=0.01)


class Recorder(LeaderWork):
    """A worker whose passes return the failures queued in `outcomes` (an exception raises)."""

    def __init__(self, lists: list[bool], pacing: Pacing = FAST) -> None:
        setup = LeaderSetup(
            client.ApiClient(), Index(ScopeSettings("home")), threading.Event(), lambda: lists[0]
        )
        super().__init__("test", setup, pacing, logging.getLogger("pullpass.test"))
        self.outcomes: list[int | Exception] = []
        self.calls: list[str] = []

    def reconcile(self) -> int:
        self.calls.append("reconcile")
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def forget(self) -> None:
        self.calls.append("forget")

    def failed(self, error: Exception) -> None:
        self.calls.append(f"failed {error}")


def test_not_ready_without_the_lease_or_before_the_first_lists() -> None:
    lists = [False]
    work = Recorder(lists)
    assert not work.ready(0.01, 0.01), "no Lease"
    work.leading.set()
    assert not work.ready(0.01, 0.01), "the Lease, but not the first lists"
    lists[0] = True
    assert work.ready()


def test_took_lease_holds_once_per_lease() -> None:
    work = Recorder([True])
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


def test_a_new_lease_brings_a_pass_at_once_from_a_clean_slate() -> None:
    work = Recorder([True], Pacing(resync=60.0, retry=0.01, burst=0.0, poll=0.01))
    assert not work.due(), "no Lease"
    work.leading.set()
    assert work.due(), "no change needed: the Lease alone makes a pass due"
    assert work.calls == ["forget"]


def test_a_change_brings_a_pass_and_a_quiet_resync_forgets_first() -> None:
    work = Recorder([True])
    work.leading.set()
    assert work.due()
    work.one_pass()
    work.calls.clear()
    work.wake.set()  # the index changed
    assert work.due()
    assert work.calls == [], "a change: what the worker remembers still holds"
    work.one_pass()
    assert not work.wake.is_set()
    work.calls.clear()
    assert work.due(), "nothing changed for `resync`: a pass all the same"
    assert work.calls == ["forget"]


def test_no_pass_when_the_lease_went_while_waiting() -> None:
    work = Recorder([True], Pacing(resync=60.0, retry=0.01, burst=0.0, poll=0.01))
    work.leading.set()
    assert work.due()
    work.one_pass()
    work.leading.clear()
    work.wake.set()
    assert not work.due()


def test_a_failed_or_raising_pass_makes_the_next_one_due() -> None:
    work = Recorder([True])
    work.outcomes = [2, RuntimeError("API down")]
    work.one_pass()
    assert work.wake.is_set(), "two calls failed: due again, change or not"
    work.one_pass()
    assert work.wake.is_set(), "the pass raised: due again"
    work.one_pass()
    assert not work.wake.is_set(), "a clean pass: nothing due until a change"
    assert work.calls == ["reconcile", "reconcile", "failed API down", "reconcile"]
