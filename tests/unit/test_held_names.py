"""Names held against copies: every Secret pullpass does not manage, fed by the watchers."""

import base64
from typing import Any

from kubernetes import client

from app.core.credentials.credential import namespace_from_object
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.feed import OTHER_TYPES, Feed
from app.shell.cluster.index import Index
from tests.kit.objects import namespace, secret

HOME = "pullpass-system"
SOURCE = secret(HOME, "shared", {"q.example": ("u", "p")}, labels={"pullpass.io/project": "p"})
TENANT = namespace("t", {"pullpass.io/project": "p", "pullpass.io/inject": "enabled"})


def started() -> tuple[Feed, Index]:
    index = Index(ScopeSettings(HOME))
    feed = Feed(client.ApiClient(client.Configuration()), index)
    feed.watchers[0]._apply("LIST", [TENANT])
    feed.watchers[1]._apply("LIST", [SOURCE])
    return feed, index


def served(index: Index) -> list[str]:
    resolution = index.resolution(namespace_from_object(TENANT))
    return [s.secret for s in resolution.credentials]


def unreadable(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj = secret("t", name, {}, labels=labels)
    obj["data"][".dockerconfigjson"] = base64.b64encode(b'{"auths": 5}').decode()
    return obj


def opaque(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"namespace": "t", "name": name, "labels": labels or {}}}


def test_the_names_watcher_skips_the_types_the_credential_watchers_report() -> None:
    assert OTHER_TYPES == "type!=kubernetes.io/dockerconfigjson,type!=kubernetes.io/dockercfg"


def test_an_opaque_secret_holds_its_name_until_deleted() -> None:
    feed, index = started()
    names = feed.watchers[3]._apply
    assert served(index) == ["shared"]
    names("LIST", [opaque("shared")])
    assert served(index) == []
    names("DELETED", opaque("shared"))
    assert served(index) == ["shared"]
    names("ADDED", opaque("shared", {"pullpass.io/managed-by": "pullpass"}))
    assert served(index) == ["shared"]


def test_an_unreadable_credential_holds_its_name_until_deleted() -> None:
    feed, index = started()
    credentials = feed.watchers[1]._apply
    credentials("ADDED", unreadable("shared"))
    assert served(index) == []
    # A relist of the other types must not free a name the credential watcher reported.
    feed.watchers[3]._apply("LIST", [])
    assert served(index) == []
    credentials("DELETED", unreadable("shared"))
    assert served(index) == ["shared"]


def test_an_unreadable_credential_in_a_list_holds_its_name_unless_managed() -> None:
    feed, index = started()
    credentials = feed.watchers[1]._apply
    credentials("LIST", [SOURCE, unreadable("shared")])
    assert served(index) == []
    credentials("LIST", [SOURCE, unreadable("shared", {"pullpass.io/managed-by": "pullpass"})])
    assert served(index) == ["shared"]


def test_a_credential_repaired_in_place_is_the_namespace_own() -> None:
    feed, index = started()
    credentials = feed.watchers[1]._apply
    credentials("ADDED", unreadable("shared"))
    credentials("MODIFIED", secret("t", "shared", {"own.example": ("u", "p")}))
    resolution = index.resolution(namespace_from_object(TENANT))
    assert [(s.secret, s.scope) for s in resolution.credentials] == [("shared", "namespace")]
    credentials("DELETED", secret("t", "shared", {"own.example": ("u", "p")}))
    assert served(index) == ["shared"]
