"""The Rancher preset: a namespace's project is Rancher's guarded annotation, pullpass's label
names the source's project.

Rancher's webhook lets only users with manage-namespaces on a project set the annotation
`field.cattle.io/projectId` (`<cluster>:<project>`); the label of the same name is editable by
any member who may edit their namespace. So a label alone, or one that disagrees with the
annotation, must bring no project credential, and the tenant must be told why: a Warning
Event `ProjectNotTrusted` in the namespace, and a warning from `pullpass explain`.
"""

import json
from functools import partial
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.scope.installation import Installation, chart, scope_args
from tests.e2e.scope.sources import (
    PROJECT,
    RANCHER_PROJECT,
    apply_registry_secret,
    copies,
    events,
    wait_copies,
)
from tests.kit import cli, objects
from tests.kit.chart import Manifest, access_objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, apply_pod, create_namespace, pull_secrets, unique

REGISTRY = "rancher.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"
NOT_TRUSTED = "ProjectNotTrusted"


def _rancher_namespace(
    kubectl: Kubectl, prefix: str, label: str | None, annotation: str | None
) -> str:
    """A namespace as Rancher (annotation) and a tenant (label) left it, annotated first."""
    name = create_namespace(kubectl, unique(prefix))
    if annotation is not None:
        kubectl("annotate", "namespace", name, f"{RANCHER_PROJECT}={annotation}")
    if label is not None:
        kubectl("label", "namespace", name, f"{RANCHER_PROJECT}={label}")
    return name


def _identity(objects: list[Manifest]) -> list[Manifest]:
    return [
        o
        for o in access_objects(objects)
        if not o["metadata"]["name"].endswith("-namespace-labels")
    ]


def test_rancher_projects_are_pullpass_projects(
    kubectl: Kubectl, pullpass: Pullpass, installation: Installation, passwords: Passwords
) -> None:
    rancher = chart({"rancher": True})
    assert "--rancher" in scope_args(rancher)
    # pullpass's identity is the same under the preset (only the namespace label policy, which
    # binds tenants, differs): the RBAC applied for the suite is the one it needs.
    assert _identity(rancher) == _identity(installation.objects)
    installation.switch("pullpass-rancher", rancher)

    home = installation.credentials_namespace
    project = "p-abcde"
    inside = _rancher_namespace(kubectl, "cattle", project, f"c-local:{project}")
    annotated = _rancher_namespace(kubectl, "cattle", None, f"c-local:{project}")
    elsewhere = _rancher_namespace(kubectl, "cattle", "p-zzzzz", "c-local:p-zzzzz")
    # Under the preset pullpass's own namespace label no longer names a project.
    plain = create_namespace(kubectl, unique("plain"), labels={PROJECT: project})
    name = unique("rancher-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: project})

    wait_copies(kubectl, home, name, {inside, annotated})
    assert set(copies(kubectl, name)) == {inside, annotated}, (elsewhere, plain)
    for namespace in (inside, annotated):
        assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, IMAGE, name="app"))) == [name]
    assert pull_secrets(apply_pod(kubectl, objects.pod(elsewhere, IMAGE, name="app"))) == []
    assert pull_secrets(apply_pod(kubectl, objects.pod(plain, IMAGE, name="app"))) == []


def test_a_label_rancher_does_not_back_gets_no_project_credential(
    kubectl: Kubectl,
    pullpass: Pullpass,
    installation: Installation,
    passwords: Passwords,
    tmp_path: Path,
) -> None:
    """A member of project A labels their namespace with project B: nothing of B's."""
    installation.switch("pullpass-rancher", chart({"rancher": True}))
    home = installation.credentials_namespace
    victim = "p-victim"
    member = _rancher_namespace(kubectl, "member", victim, f"c-local:{victim}")
    liar = _rancher_namespace(kubectl, "liar", victim, "c-local:p-attacker")
    bare = _rancher_namespace(kubectl, "bare", victim, None)
    name = unique("victim-reg")
    apply_registry_secret(kubectl, passwords, home, name, REGISTRY, {PROJECT: victim})

    wait_copies(kubectl, home, name, {member})
    for namespace in (liar, bare):
        assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, IMAGE, name="app"))) == []
        found = eventually(
            partial(events, kubectl, namespace, NOT_TRUSTED),
            15,
            f"a {NOT_TRUSTED} Event in {namespace}",
            every=0.3,
        )
        assert found[0]["type"] == "Warning"
        assert f"label {RANCHER_PROJECT}={victim}" in found[0]["message"]
        assert found[0]["involvedObject"]["kind"] == "Namespace"
    assert set(copies(kubectl, name)) == {member}
    assert events(kubectl, member, NOT_TRUSTED) == []

    pod = tmp_path / "pod.json"
    pod.write_text(json.dumps(objects.pod(liar, IMAGE, name="app")))
    done = cli.run(
        "explain",
        "--pod",
        str(pod),
        "--rancher",
        f"--credentials-namespace={home}",
        f"--kubeconfig={kubectl.kubeconfig}",
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["imagePullSecrets"] == []
    assert any("disagreeing with Rancher's annotation" in w for w in report["warnings"]), report
