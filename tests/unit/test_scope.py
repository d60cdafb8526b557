"""Scope resolution: which credentials serve a namespace, in which order, under which name."""

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import ScopeSettings, claims_scope, resolve, source_scope

SETTINGS = ScopeSettings(credentials_namespace="home")


def cred(
    namespace: str, name: str, labels: dict[str, str] | None = None, **annotations: str
) -> Credential:
    return Credential(
        namespace, name, "kubernetes.io/dockerconfigjson", labels or {}, annotations, ("quay.io",)
    )


def ns(name: str, project: str | None = None, label: str = "pullpass.io/project") -> NamespaceInfo:
    labels = {"pullpass.io/inject": "enabled"}
    if project:
        labels[label] = project
    return NamespaceInfo(name, labels)


PROJECT_P = cred("home", "p-cred", {"pullpass.io/project": "p"})
PROJECT_Q = cred("home", "q-cred", {"pullpass.io/project": "q"})
CLUSTER = cred("home", "all", {"pullpass.io/scope": "cluster"})
SOURCES = [CLUSTER, PROJECT_Q, PROJECT_P]


def names(resolution: object) -> list[tuple[str, str]]:
    return [(s.secret, s.scope) for s in resolution.credentials]  # type: ignore[attr-defined]


def test_order_namespace_by_name_then_project_then_cluster() -> None:
    own = [cred("a", "zeta"), cred("a", "alpha")]
    assert names(resolve(ns("a", "p"), own, SOURCES, SETTINGS)) == [
        ("alpha", "namespace"),
        ("zeta", "namespace"),
        ("p-cred", "project:p"),
        ("all", "cluster"),
    ]


def test_namespace_without_project_gets_cluster_sources_only() -> None:
    assert names(resolve(ns("a"), [], SOURCES, SETTINGS)) == [("all", "cluster")]


def test_secret_annotated_inject_false_is_excluded() -> None:
    own = [cred("a", "off", None, **{"pullpass.io/inject": "false"})]
    assert names(resolve(ns("a"), own, [], SETTINGS)) == []


def test_managed_copy_is_represented_by_its_source() -> None:
    copy = cred("a", "p-cred", {"pullpass.io/managed-by": "pullpass"})
    assert names(resolve(ns("a", "p"), [copy], SOURCES, SETTINGS)) == [
        ("p-cred", "project:p"),
        ("all", "cluster"),
    ]


def test_unmanaged_secret_with_a_source_name_is_a_conflict() -> None:
    mine = cred("a", "all")
    result = resolve(ns("a", "p"), [mine], SOURCES, SETTINGS)
    assert names(result) == [("all", "namespace"), ("p-cred", "project:p")]
    assert result.conflicts == [CLUSTER]


def test_only_the_credentials_namespace_holds_sources() -> None:
    stray = cred("tenant", "evil", {"pullpass.io/scope": "cluster"})
    assert source_scope(stray, SETTINGS) is None
    assert names(resolve(ns("a", "p"), [], [stray], SETTINGS)) == []


def test_project_label_is_settable() -> None:
    rancher = ScopeSettings("home", "field.cattle.io/projectId")
    namespace = ns("a", "p", label="field.cattle.io/projectId")
    assert ("p-cred", "project:p") in names(resolve(namespace, [], SOURCES, rancher))
    assert ("p-cred", "project:p") not in names(resolve(namespace, [], SOURCES, SETTINGS))


def test_credentials_namespace_gets_no_copies_of_its_own_sources() -> None:
    assert names(resolve(ns("home", "p"), SOURCES, SOURCES, SETTINGS)) == [
        ("all", "namespace"),
        ("p-cred", "namespace"),
        ("q-cred", "namespace"),
    ]


def test_a_name_held_by_any_unmanaged_secret_blocks_the_copy() -> None:
    # e.g. an Opaque Secret named like a source: not a registry credential, still not ours.
    result = resolve(ns("a", "p"), [], SOURCES, SETTINGS, held={"p-cred"})
    assert names(result) == [("all", "cluster")]
    assert result.conflicts == [PROJECT_P]


def test_an_opted_out_secret_still_holds_its_name_against_a_copy() -> None:
    """Opting a Secret out of injection does not hand its name to a source of the same name."""
    mine = cred("a", "all", None, **{"pullpass.io/inject": "false"})
    result = resolve(ns("a", "p"), [mine], SOURCES, SETTINGS)
    assert names(result) == [("p-cred", "project:p")]
    assert result.conflicts == [CLUSTER]


def test_either_source_label_claims_a_scope_whatever_its_value() -> None:
    assert claims_scope(cred("a", "x", {"pullpass.io/scope": ""}))
    assert claims_scope(cred("a", "x", {"pullpass.io/project": "p"}))
    assert not claims_scope(cred("a", "x", {"pullpass.io/managed-by": "pullpass"}))
    assert not claims_scope(cred("a", "x"))


def test_a_project_label_names_a_project_only_when_not_empty() -> None:
    assert source_scope(cred("home", "x", {"pullpass.io/project": ""}), SETTINGS) is None
    none = cred("home", "none", {"pullpass.io/project": "None"})
    assert names(resolve(ns("a"), [], [none, CLUSTER], SETTINGS)) == [("all", "cluster")]
