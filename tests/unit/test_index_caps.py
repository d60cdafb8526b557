"""Bounded work per tenant object: the caps on registry keys as the index and the feed apply
them, the cluster-wide key set kept current one Secret at a time, and tables only for namespaces
that exist."""

from typing import Any

from kubernetes import client

from app.core.credentials.keyset import KeyCaps
from app.core.credentials.scope import ScopeSettings
from app.core.images.reference import ImageName, parse_image
from app.shell.cli import main as cli
from app.shell.cli.serve import key_caps
from app.shell.cluster.feed import CAPPED, Feed
from app.shell.cluster.index import Index
from app.shell.telemetry import metrics
from tests.kit.objects import namespace, secret

HOME = "pullpass-system"
CAPS = KeyCaps(per_secret=3, total=5, length=40)
ENABLED = {"pullpass.io/inject": "enabled"}


def keys(*hosts: str) -> dict[str, tuple[str, str]]:
    return {host: ("u", "p") for host in hosts}


def versioned(obj: dict[str, Any], version: str) -> dict[str, Any]:
    obj["metadata"]["resourceVersion"] = version
    obj["metadata"]["uid"] = f"uid-{obj['metadata']['name']}"
    return obj


def image(name: str) -> ImageName:
    parsed = parse_image(name)
    assert parsed is not None
    return parsed


def fed() -> tuple[Feed, Index]:
    index = Index(ScopeSettings(HOME), caps=CAPS)
    feed = Feed(client.ApiClient(client.Configuration()), index)
    feed.watchers[0]._apply("LIST", [namespace("a", ENABLED), namespace("t")])
    return feed, index


def indexed(index: Index) -> dict[str, tuple[str, ...]]:
    return {c.ref: c.keys for c in index.credentials()}


def capped_total() -> float:
    return metrics.KEYS_CAPPED._value.get()


def test_a_tenant_secret_keeps_at_most_its_cap_the_credentials_namespace_all() -> None:
    feed, index = fed()
    many = keys("a.io", "b.io", "c.io", "d.io", "x" * 41 + ".io")
    feed.watchers[1]._apply("ADDED", versioned(secret("t", "big", many), "1"))
    feed.watchers[1]._apply("ADDED", versioned(secret(HOME, "admin", many), "2"))
    assert indexed(index) == {
        "t/big": ("a.io", "b.io", "c.io"),
        f"{HOME}/admin": tuple(sorted(many)),
    }
    assert index.sizes() == (2, 2, 5)


def test_past_the_total_a_tenant_adds_no_new_key_and_a_deletion_frees_room() -> None:
    feed, index = fed()
    feed.watchers[1]._apply(
        "ADDED", versioned(secret("t", "one", keys("a.io", "b.io", "c.io")), "1")
    )
    feed.watchers[1]._apply(
        "ADDED", versioned(secret("t", "two", keys("d.io", "e.io", "f.io")), "2")
    )
    feed.watchers[1]._apply("ADDED", versioned(secret("a", "own", keys("a.io", "g.io")), "3"))
    assert indexed(index) == {
        "t/one": ("a.io", "b.io", "c.io"),
        "t/two": ("d.io", "e.io"),
        "a/own": ("a.io",),
    }
    assert not index.serves_anywhere(image("g.io/app"))
    feed.watchers[1]._apply("DELETED", secret("t", "one", {}))
    feed.watchers[1]._apply("MODIFIED", versioned(secret("a", "own", keys("a.io", "g.io")), "4"))
    assert indexed(index)["a/own"] == ("a.io", "g.io")
    assert index.serves_anywhere(image("g.io/app"))
    assert not index.serves_anywhere(image("b.io/app"))


def test_a_relist_applies_the_same_caps() -> None:
    feed, index = fed()
    tenant = versioned(secret("t", "big", keys("a.io", "b.io", "c.io", "d.io")), "1")
    feed.watchers[1]._apply("LIST", [tenant, versioned(secret(HOME, "s", keys("h.io")), "2")])
    assert indexed(index) == {"t/big": ("a.io", "b.io", "c.io"), f"{HOME}/s": ("h.io",)}
    feed.watchers[1]._apply("LIST", [versioned(secret(HOME, "s", keys("h.io")), "2")])
    assert index.sizes()[2] == 1
    assert not index.serves_anywhere(image("a.io/app"))


def test_capping_is_counted_and_reported_once_per_secret_version() -> None:
    feed, _ = fed()
    big = keys("a.io", "b.io", "c.io", "d.io", "e.io")
    before = capped_total()
    for _ in range(3):
        feed.watchers[1]._apply("MODIFIED", versioned(secret("t", "big", big), "7"))
    feed.watchers[1]._apply("LIST", [versioned(secret("t", "big", big), "7")])
    assert capped_total() - before == 2
    waiting = list(feed.events._queue.queue)
    assert len(waiting) == 1
    about, reason, message, kind, name = waiting[0]
    assert (about.kind, about.namespace, about.name, about.uid) == ("Secret", "t", "big", "uid-big")
    assert (reason, kind) == (CAPPED, "Warning")
    assert message.startswith("2 of 5 registry keys left out")
    feed.watchers[1]._apply("MODIFIED", versioned(secret("t", "big", big), "8"))
    assert capped_total() - before == 4
    assert len(feed.events._queue.queue) == 2
    assert feed.events._queue.queue[1][4] != name


def test_a_tenant_secret_event_leaves_other_namespaces_tables_in_place() -> None:
    feed, index = fed()
    feed.watchers[1]._apply("ADDED", versioned(secret("a", "own", keys("a.io")), "1"))
    table = index.table("a")
    assert table is not None
    feed.watchers[1]._apply("ADDED", versioned(secret("t", "flood", keys("f.io")), "2"))
    assert index.table("a") is table
    feed.watchers[1]._apply("ADDED", versioned(secret(HOME, "src", keys("s.io")), "3"))
    assert index.table("a") is not table, "a change in the credentials namespace reaches all"


def test_reviews_naming_unknown_namespaces_leave_no_table_behind() -> None:
    _, index = fed()
    for n in range(1000):
        assert index.table(f"unknown-{n}") is None
    assert index.table("t") is None
    assert set(index._tables) == {"t"}


def test_serve_flags_set_every_cap() -> None:
    flags = ["--max-keys-per-secret", "7", "--max-keys-total", "70", "--max-key-length", "64"]
    assert key_caps(cli.parse(["serve", "--admission=policy", *flags])) == KeyCaps(
        per_secret=7, total=70, length=64
    )
    assert key_caps(cli.parse(["serve", "--admission=policy"])) == KeyCaps()
