"""The replicator's plan: which copies to write or delete, from the index alone."""

from app.core.credentials.copies import Written, wanted
from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.digest import secret_data
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.cluster.replicator import plan

ENABLED = {"pullpass.io/inject": "enabled"}
MANAGED = {"pullpass.io/managed-by": "pullpass"}


TYPE = "kubernetes.io/dockerconfigjson"


def credential(
    namespace: str,
    name: str,
    labels: dict[str, str],
    version: str = "1",
    data: str = "a",
    annotations: dict[str, str] | None = None,
) -> Credential:
    digest = secret_data(TYPE, {".dockerconfigjson": data})
    return Credential(
        namespace, name, TYPE, labels, annotations or {}, ("quay.io",), version, digest
    )


def copy_of(namespace: str, source: Credential, version: str, data: str = "a") -> Credential:
    annotations = {"pullpass.io/source": source.ref, "pullpass.io/source-version": source.version}
    digest = secret_data(TYPE, {".dockerconfigjson": data})
    return Credential(
        namespace, source.name, source.type, MANAGED, annotations, source.keys, version, digest
    )


def build(*credentials: Credential) -> Index:
    index = Index(ScopeSettings("home"))
    index.put_namespace(NamespaceInfo("home", {}))
    index.put_namespace(NamespaceInfo("a", {**ENABLED, "pullpass.io/project": "p"}))
    index.put_namespace(NamespaceInfo("b", {**ENABLED, "pullpass.io/project": "q"}))
    index.put_namespace(NamespaceInfo("off", {"pullpass.io/project": "p"}))
    for c in credentials:
        index.put_credential(c)
    return index


SOURCE = credential("home", "reg", {"pullpass.io/project": "p"}, version="7")
EVERYONE = credential("home", "all", {"pullpass.io/scope": "cluster"}, version="3")


def test_missing_copies_are_written_only_where_in_scope() -> None:
    work = plan(build(SOURCE, EVERYONE), {})
    assert sorted((ns, s.name) for ns, s, _ in work.write) == [
        ("a", "all"),
        ("a", "reg"),
        ("b", "all"),
    ]
    assert work.delete == []


def test_a_copy_equal_to_its_source_is_never_written_whoever_wrote_it() -> None:
    copy = copy_of("a", SOURCE, version="40")
    work = plan(build(SOURCE, copy), {})  # a restarted replica or a new leader: nothing written
    assert work.write == []
    assert work.in_sync == 1
    assert work.pending == set()


def test_a_copy_edited_since_is_rewritten() -> None:
    edited = copy_of("a", SOURCE, version="41", data="by hand")
    assert [c for _, _, c in plan(build(SOURCE, edited), {}).write] == [edited]
    # what this replica wrote over version 40 does not cover the edit that made 41
    written = {("a", "reg"): Written("40", wanted(SOURCE))}
    assert [c for _, _, c in plan(build(SOURCE, edited), written).write] == [edited]


def test_a_write_not_yet_seen_by_the_watch_is_not_repeated() -> None:
    stale = copy_of("a", SOURCE, version="40", data="old")
    written = {("a", "reg"): Written("40", wanted(SOURCE)), ("b", "gone"): Written("", b"x")}
    work = plan(build(SOURCE, stale), written)
    assert work.write == []
    assert work.pending == {("a", "reg")}  # the rest is forgotten


def test_a_changed_source_rewrites_its_copies() -> None:
    copy = copy_of("a", SOURCE, version="40")
    rotated = credential("home", "reg", {"pullpass.io/project": "p"}, version="8", data="new")
    assert [(ns, c) for ns, _, c in plan(build(rotated, copy), {}).write] == [("a", copy)]


def test_copies_out_of_scope_are_deleted_and_unmanaged_secrets_never() -> None:
    stale = copy_of("b", SOURCE, version="5")  # b is in project q
    disabled = copy_of("off", SOURCE, version="6")
    orphan = copy_of("a", credential("home", "gone", {}), version="9")
    users = credential("b", "mine", {})
    work = plan(build(SOURCE, stale, disabled, orphan, users), {})
    assert sorted(c.ref for c in work.delete) == ["a/gone", "b/reg", "off/reg"]


def test_unmanaged_secret_holding_the_name_is_a_conflict_not_a_write() -> None:
    users = credential("a", "reg", {})
    work = plan(build(SOURCE, users), {})
    assert work.write == []
    assert work.conflicts == [("a", SOURCE)]
    assert work.delete == []


def test_an_opted_out_secret_holding_the_name_is_a_conflict_not_a_write() -> None:
    users = credential("a", "reg", {}, annotations={"pullpass.io/inject": "false"})
    work = plan(build(SOURCE, users), {})
    assert work.write == []
    assert work.conflicts == [("a", SOURCE)]
    assert work.delete == []
