"""The audit's rows on plain data: what a new pod like it would get, owners, pull failures."""

from typing import Any

import pytest

from app.core.audit.report import audit_object, build_report
from app.core.bad_object import BadObject
from app.core.credentials.credential import Credential
from app.core.credentials.match import MatchTable
from app.core.credentials.scope import Scoped
from app.core.credentials.serviceaccount import ServiceAccountInfo, ordinary
from app.core.images.reference import ImageName
from tests.kit.objects import pod


def scoped(name: str, key: str, scope: str = "namespace") -> Scoped:
    return Scoped(
        name, scope, Credential("a", name, "kubernetes.io/dockerconfigjson", {}, {}, (key,))
    )


class View:
    """Namespace `a` is enabled with quay and a cluster-scoped gcr copy; `off` is not."""

    def __init__(self) -> None:
        self.tables = {
            "a": MatchTable([scoped("quay", "quay.io"), scoped("g", "gcr.io", "cluster")])
        }

    def table(self, namespace: str) -> MatchTable | None:
        return self.tables.get(namespace)

    def serves_anywhere(self, image: ImageName) -> bool:
        return False

    def service_account(self, namespace: str, name: str) -> ServiceAccountInfo:
        return ordinary(namespace, name)


VIEW = View()


def test_pod_lacking_credentials_gets_them_in_table_order() -> None:
    row = audit_object(pod("a", "gcr.io/x/y", "quay.io/a/b"), VIEW)
    assert row == {
        "namespace": "a",
        "name": "p",
        "owner": None,
        "add": ["quay", "g"],
        "pullFailing": False,
    }


def test_credentials_already_listed_are_not_reported() -> None:
    row = audit_object(pod("a", "gcr.io/x/y", "quay.io/a/b", pull_secrets=("quay",)), VIEW)
    assert row is not None
    assert row["add"] == ["g"]


def test_controller_owner_only() -> None:
    rs = {"kind": "ReplicaSet", "name": "web-1", "controller": True}
    assert audit_object(pod("a", "nginx", owner=rs), VIEW)["owner"] == "ReplicaSet/web-1"  # type: ignore[index]
    other = {"kind": "ConfigMap", "name": "x"}
    assert audit_object(pod("a", "nginx", owner=other), VIEW)["owner"] is None  # type: ignore[index]


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_pull_failing_on_an_image_a_missing_credential_serves(reason: str) -> None:
    row = audit_object(pod("a", "nginx", "quay.io/a/b", waiting={"c1": reason}), VIEW)
    assert row is not None
    assert row["pullFailing"] is True


def test_not_pull_failing_when_the_failing_image_has_no_missing_credential() -> None:
    # c0 (nginx) fails, but no credential serves Docker Hub; quay is missing but c1 is fine.
    row = audit_object(pod("a", "nginx", "quay.io/a/b", waiting={"c0": "ImagePullBackOff"}), VIEW)
    assert row is not None
    assert (row["add"], row["pullFailing"]) == (["quay"], False)


def test_not_pull_failing_for_other_waiting_reasons_or_listed_credentials() -> None:
    creating = pod("a", "quay.io/a/b", waiting={"c0": "ContainerCreating"})
    assert audit_object(creating, VIEW)["pullFailing"] is False  # type: ignore[index]
    listed = pod("a", "quay.io/a/b", pull_secrets=("quay",), waiting={"c0": "ErrImagePull"})
    assert audit_object(listed, VIEW)["pullFailing"] is False  # type: ignore[index]


def test_pod_that_opts_out_and_namespace_not_enabled_get_nothing() -> None:
    opted_out = pod("a", "quay.io/a/b", labels={"pullpass.io/inject": "disabled"})
    assert audit_object(opted_out, VIEW)["add"] == []  # type: ignore[index]
    assert audit_object(pod("off", "quay.io/a/b"), VIEW)["add"] == []  # type: ignore[index]


def template(image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


@pytest.mark.parametrize(
    "kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController"]
)
def test_workloads_are_judged_by_their_pod_template(kind: str) -> None:
    obj = {
        "kind": kind,
        "metadata": {"name": "w", "namespace": "a"},
        "spec": {"template": template("quay.io/a/b")},
    }
    assert audit_object(obj, VIEW) == {"namespace": "a", "kind": kind, "name": "w", "add": ["quay"]}


def test_cronjob_template_is_under_its_job_template() -> None:
    obj = {
        "kind": "CronJob",
        "metadata": {"name": "n", "namespace": "a"},
        "spec": {"jobTemplate": {"spec": {"template": template("gcr.io/x")}}},
    }
    assert audit_object(obj, VIEW) == {
        "namespace": "a",
        "kind": "CronJob",
        "name": "n",
        "add": ["g"],
    }


def test_owned_replica_sets_are_left_to_their_owner() -> None:
    owner = [{"kind": "Deployment", "name": "web", "controller": True}]
    obj = {
        "kind": "ReplicaSet",
        "metadata": {"name": "w", "namespace": "a", "ownerReferences": owner},
        "spec": {"template": template("quay.io/a/b")},
    }
    assert audit_object(obj, VIEW) is None


def test_template_opt_out_label_counts() -> None:
    tpl = template("quay.io/a/b")
    tpl["metadata"]["labels"]["pullpass.io/inject"] = "disabled"
    obj = {
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "a"},
        "spec": {"template": tpl},
    }
    assert audit_object(obj, VIEW)["add"] == []  # type: ignore[index]


def test_other_kinds_are_not_audited() -> None:
    assert audit_object({"kind": "ServiceAccount", "metadata": {"name": "default"}}, VIEW) is None


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"kind": "Pod", "metadata": {"name": "p", "namespace": "a"}, "spec": {"containers": 3}},
            "Pod a/p: spec.containers must be a list",
        ),
        (
            {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": []}},
            "Deployment default/d: spec.template must be an object",
        ),
        (
            {**pod("a", "quay.io/a/b"), "status": {"containerStatuses": {}}},
            "Pod a/p: status.containerStatuses must be a list",
        ),
    ],
)
def test_malformed_objects_raise_naming_the_object(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(BadObject, match=message):
        audit_object(obj, VIEW)


def test_report_sorts_pods_and_workloads_apart() -> None:
    rows = [
        {"namespace": "b", "kind": "Job", "name": "j", "add": []},
        {"namespace": "a", "name": "z", "owner": None, "add": [], "pullFailing": False},
        None,
        {"namespace": "a", "name": "m", "owner": None, "add": [], "pullFailing": False},
        {"namespace": "a", "kind": "Job", "name": "j", "add": []},
    ]
    report = build_report(rows)  # type: ignore[arg-type]
    assert [p["name"] for p in report["pods"]] == ["m", "z"]
    assert [w["namespace"] for w in report["workloads"]] == ["a", "b"]


def test_not_pull_failing_when_the_failing_image_is_served_by_a_listed_credential() -> None:
    # The quay image fails though quay is listed (a wrong password, not pullpass's business);
    # g is missing but its image pulls fine.
    row = audit_object(
        pod("a", "quay.io/a/b", "gcr.io/x", pull_secrets=("quay",), waiting={"c0": "ErrImagePull"}),
        VIEW,
    )
    assert row is not None
    assert (row["add"], row["pullFailing"]) == (["g"], False)
