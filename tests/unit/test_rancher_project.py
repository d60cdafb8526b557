"""Under --rancher a namespace's project is Rancher's guarded annotation, not its label.

Rancher's webhook lets only users with manage-namespaces on the target project set the
annotation `field.cattle.io/projectId` (`<cluster>:<project>`); the label of the same name is
editable by any member who may edit the namespace. A member of project A who labels their
namespace `p-b` must not receive project B's credentials.
"""

import pytest

from app.core.credentials.credential import Credential, NamespaceInfo, namespace_from_object
from app.core.credentials.scope import (
    ScopeSettings,
    distrusted_project,
    project_of,
    rancher_project,
    resolve,
)
from app.shell.cluster.index import Index
from app.shell.cluster.replicator import plan

RANCHER = ScopeSettings("home", "field.cattle.io/projectId", rancher=True)
LABEL = "field.cattle.io/projectId"
ENABLED = {"pullpass.io/inject": "enabled"}
B_SOURCE = Credential(
    "home", "b-reg", "kubernetes.io/dockerconfigjson", {"pullpass.io/project": "p-b"}, {}, ("x",)
)


def namespace(label: str | None, annotation: str | None, name: str = "a") -> NamespaceInfo:
    labels = {**ENABLED, **({LABEL: label} if label is not None else {})}
    annotations = {LABEL: annotation} if annotation is not None else {}
    return NamespaceInfo(name, labels, annotations)


@pytest.mark.parametrize(
    ("label", "annotation", "project"),
    [
        ("p-b", "c-1:p-b", "p-b"),  # Rancher writes both, and they agree
        (None, "c-1:p-b", "p-b"),  # the annotation alone is Rancher's word
        ("p-b", None, None),  # a label alone: any member could have set it
        ("p-b", "c-1:p-a", None),  # a label that disagrees gives nothing, not even p-a
        ("p-b", "p-b", None),  # no cluster part: not Rancher's format
        (None, "c-1:", None),
        (None, "c-1:p-b:x", None),
        (None, None, None),
    ],
)
def test_the_project_is_the_annotations_project_part(
    label: str | None, annotation: str | None, project: str | None
) -> None:
    assert project_of(namespace(label, annotation), RANCHER) == project
    names = [
        s.secret for s in resolve(namespace(label, annotation), [], [B_SOURCE], RANCHER).credentials
    ]
    assert names == (["b-reg"] if project == "p-b" else [])


def test_without_the_preset_the_label_is_the_project() -> None:
    plain = ScopeSettings("home", LABEL)
    assert project_of(namespace("p-b", None), plain) == "p-b"
    assert distrusted_project(namespace("p-b", None), plain) is None


def test_a_distrusted_label_says_why() -> None:
    alone = distrusted_project(namespace("p-b", None), RANCHER)
    assert alone == (
        "namespace a: label field.cattle.io/projectId=p-b without Rancher's annotation "
        "field.cattle.io/projectId: no project credentials"
    )
    other = distrusted_project(namespace("p-b", "c-1:p-a"), RANCHER)
    assert other is not None
    disagree = "=p-b disagreeing with Rancher's annotation field.cattle.io/projectId (project p-a)"
    assert disagree in other
    assert distrusted_project(namespace("p-b", "c-1:p-b"), RANCHER) is None
    assert distrusted_project(namespace(None, "c-1:p-b"), RANCHER) is None


def test_the_index_keeps_only_rancher_s_annotation() -> None:
    info = namespace_from_object(
        {
            "metadata": {
                "name": "a",
                "labels": {LABEL: "p-b"},
                "annotations": {LABEL: "c-1:p-b", "kubectl.kubernetes.io/last-applied": "{}"},
            }
        }
    )
    assert info.annotations == {LABEL: "c-1:p-b"}
    assert rancher_project(info) == "p-b"


def test_the_leader_plans_no_copy_and_reports_the_label() -> None:
    index = Index(RANCHER)
    index.put_namespace(NamespaceInfo("home", {}))
    index.put_namespace(namespace("p-b", "c-1:p-a", "liar"))
    index.put_namespace(namespace("p-b", None, "bare"))
    index.put_namespace(namespace("p-b", "c-1:p-b", "member"))
    index.put_credential(B_SOURCE)
    work = plan(index, {})
    assert [(ns, s.name) for ns, s, _ in work.write] == [("member", "b-reg")]
    assert sorted(ns for ns, _ in work.distrusted) == ["bare", "liar"]
