"""Readiness from the watches: fails only until the first full lists are in."""

from app.core.readiness import WatchState, readiness

NOW = 1_000.0


def test_not_ready_until_every_first_list_is_in() -> None:
    states = [
        WatchState("namespaces", True, True, NOW),
        WatchState("secret-names", False, False, 0.0),
    ]
    answer = readiness(states, NOW)
    assert not answer.ready
    assert answer.verbose() == (
        "[+]watch/namespaces ok\n"
        "[-]watch/secret-names failed: waiting for the first full list\n"
        "readyz check failed\n"
    )


def test_a_first_list_that_fails_says_why() -> None:
    answer = readiness([WatchState("namespaces", False, False, 0.0, "MaxRetryError")], NOW)
    assert answer.lines == (
        "[-]watch/namespaces failed: waiting for the first full list (MaxRetryError)",
    )


def test_a_lost_watch_stays_ready_and_says_since_when() -> None:
    states = [
        WatchState("namespaces", True, True, NOW),
        WatchState("dockerconfigjson", True, False, NOW - 12.34, "ProtocolError"),
    ]
    answer = readiness(states, NOW)
    assert answer.ready
    assert answer.lines[1] == (
        "[+]watch/dockerconfigjson ok: watch lost (ProtocolError), serving the last good index "
        "(in sync 12.3s ago)"
    )
    assert answer.verbose().endswith("readyz check passed\n")


def test_no_watches_is_ready() -> None:
    assert readiness([], NOW).ready
