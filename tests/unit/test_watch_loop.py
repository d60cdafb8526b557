"""The list and watch loop on a scripted `call`: paging, relists, backoff and readiness.

SPEC "Health": `/readyz` fails until the first full list is in. The loop's readiness is what
`Feed.listed()` reports, so it is checked through the watcher's `listed` and `in_sync` and the
feed's `ready()`, with the first list held open on its second page.
"""

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ReadTimeoutError

from app.core.credentials.scope import ScopeSettings
from app.core.retry import CAP_SECONDS, retry_delay
from app.shell.cluster import reflector
from app.shell.cluster.feed import Feed
from app.shell.cluster.index import Index
from app.shell.cluster.reflector import Watcher
from tests.unit.fake_call import (
    Applied,
    Fail,
    FakeCall,
    Gate,
    Page,
    Stream,
    event,
    item,
    run,
    watcher,
)


def test_a_list_is_read_page_by_page_and_the_watch_starts_at_its_version() -> None:
    call = FakeCall(
        Page([item("a"), item("b")], cont="token-1"),
        Page([item("c")], version="42"),
        Stream([]),
    )
    applied = Applied()
    run(watcher(call, applied))
    assert [c.get("_continue") for c in call.lists] == [None, "token-1"]
    assert all(c["limit"] == reflector.PAGE for c in call.lists)
    assert applied.seen == [("LIST", [item("a"), item("b"), item("c")])]
    assert call.watches[0]["resource_version"] == "42"


def test_events_are_applied_and_the_next_watch_resumes_after_the_last_one() -> None:
    added = event("ADDED", "a", "43")
    deleted = event("DELETED", "a", "44")
    first = Stream([added, deleted, event("BOOKMARK", "", "45")])
    call = FakeCall(Page([], version="42"), first, Stream([]))
    applied = Applied()
    run(watcher(call, applied))
    assert applied.seen == [
        ("LIST", []),
        ("ADDED", added["object"]),
        ("DELETED", deleted["object"]),
    ]
    assert [c["resource_version"] for c in call.watches] == ["42", "45"]
    assert first.released
    assert len(call.lists) == 1, "a watch that simply ended needs no new list"


def test_a_watch_silent_past_its_read_timeout_means_a_new_list_without_backoff() -> None:
    added = event("ADDED", "a", "8")
    silent = Stream([added], then=ReadTimeoutError(None, "/secrets", "Read timed out."))
    call = FakeCall(Page([item("a")], version="7"), silent, Page([item("b")], version="90"))
    applied = Applied()
    loop = watcher(call, applied)
    run(loop)
    assert [kind for kind, _ in applied.seen] == ["LIST", "ADDED", "LIST"]
    assert call.watches[0]["_request_timeout"] == (10, reflector.SILENT_SECONDS)
    assert reflector.SILENT_SECONDS < 120
    assert loop.stopping.timeouts == []  # type: ignore[attr-defined]
    assert silent.released


def test_lists_come_in_small_pages() -> None:
    assert reflector.PAGE <= 50, "a page of 1 MiB Secrets is held whole while it is read"


def test_a_410_error_event_means_a_new_list_without_backoff() -> None:
    gone = Stream([event("ERROR", "", "", code=410, reason="Expired")])
    call = FakeCall(Page([item("a")], version="7"), gone, Page([item("b")], version="90"))
    applied = Applied()
    loop = watcher(call, applied)
    run(loop)
    assert [kind for kind, _ in applied.seen] == ["LIST", "LIST"]
    assert applied.seen[1] == ("LIST", [item("b")])
    assert [c.get("_continue") for c in call.lists] == [None, None]
    assert loop.stopping.timeouts == []  # type: ignore[attr-defined]
    assert gone.released


def test_a_410_from_the_list_call_itself_is_a_failure_that_lists_again() -> None:
    call = FakeCall(Fail(ApiException(status=410)), Page([item("a")], version="3"), Stream([]))
    applied = Applied()
    run(watcher(call, applied))
    assert applied.seen == [("LIST", [item("a")])]
    assert call.watches[0]["resource_version"] == "3"


def test_other_error_events_relist_after_a_backoff() -> None:
    broken = Stream([event("ERROR", "", "", code=500)])
    call = FakeCall(Page([], version="1"), broken, Page([], version="2"), Stream([]))
    loop = watcher(call, Applied())
    run(loop)
    assert len(call.lists) == 2
    assert len(loop.stopping.timeouts) == 1  # type: ignore[attr-defined]


def test_backoff_doubles_to_its_cap_and_resets_after_a_good_list() -> None:
    failures = [Fail() for _ in range(9)]
    call = FakeCall(*failures, Page([], version="1"), Stream([]), Fail(), Fail())
    loop = watcher(call, Applied())
    run(loop)
    timeouts: list[float] = loop.stopping.timeouts  # type: ignore[attr-defined]
    # failures in a row before each wait: nine, then counted afresh after the good list
    counts = [*range(1, 10), 1, 2]
    assert len(timeouts) == len(counts)
    for timeout, count in zip(timeouts, counts, strict=True):
        assert retry_delay(count, 0) <= timeout <= retry_delay(count, 1), (timeout, count)
    assert max(timeouts) <= CAP_SECONDS  # however long the outage, a retry within a second


def feed_of(loop: Watcher) -> Feed:
    """A Feed whose only watcher is `loop`: its readiness is what `/readyz` reports."""
    feed = Feed(client.ApiClient(), Index(ScopeSettings("home")))
    feed.watchers = [loop]
    return feed


def test_not_ready_until_the_first_list_is_in() -> None:
    """The first list is held open on its second page: neither listed nor ready meanwhile."""
    held, watching = Gate(), Gate()
    call = FakeCall(
        Page([item("a")], cont="more"), held, Page([item("b")], version="5"), watching, Stream([])
    )
    applied = Applied()
    loop = watcher(call, applied)
    feed = feed_of(loop)
    loop.start()
    try:
        assert held.reached.wait(10)
        assert not loop.listed.is_set()
        assert not loop.in_sync
        assert not feed.listed()
        held.release()
        assert watching.reached.wait(10)
        assert loop.listed.is_set()
        assert loop.in_sync
        assert feed.listed()
        assert applied.seen == [("LIST", [item("a"), item("b")])]
    finally:
        held.release()
        watching.release()
        loop.join(10)
    assert call.mismatch is None


def test_a_failed_first_list_is_not_ready_and_a_lost_watch_keeps_the_list() -> None:
    relist, watching, again = Gate(), Gate(), Gate()
    call = FakeCall(Fail(), relist, Page([], version="1"), watching, Fail(), again, Page([]))
    loop = watcher(call, Applied())
    feed = feed_of(loop)
    loop.start()
    try:
        assert relist.reached.wait(10)  # the first list failed; the retry is held open
        assert not loop.listed.is_set()
        assert not feed.listed()
        relist.release()
        assert watching.reached.wait(10)
        assert feed.listed()
        watching.release()
        assert again.reached.wait(10)  # the watch failed; the relist is held open
        assert loop.listed.is_set(), "a lost watch is no outage: the first list still counts"
    finally:
        for gate in (relist, watching, again):
            gate.release()
        loop.join(10)
