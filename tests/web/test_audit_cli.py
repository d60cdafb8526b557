"""`pullpass audit` on files, `--version`, and `kubectl pullpass` through the real kubectl."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kit.cli import ROOT, run
from tests.kit.objects import pod
from tests.kit.objects_fixture import OBJECTS

VENV_BIN = Path(sys.executable).parent
PROJECT = "pullpass.io/project"


WORKLOADS = [
    pod(
        "team-a",
        "quay.io/team/web:1",
        "gcr.io/p/side:2",
        name="web-1",
        owner={
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-5d",
            "uid": "u",
            "controller": True,
        },
        waiting={"c0": "ImagePullBackOff"},
    ),
    pod("team-a", "nginx:1.27", name="bare"),
    pod("off", "gcr.io/p/x:1", name="would-get"),
    pod("team-b", "quay.io/team/web:1", name="elsewhere"),
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "example.com/shared/x"}]}}
        },
    },
    {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "team-a"},
    },
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("audit")
    (out / "cluster.json").write_text(json.dumps({"kind": "List", "items": OBJECTS}))
    (out / "workloads.yaml").write_text("\n---\n".join(json.dumps(o) for o in WORKLOADS))
    return ["--objects", str(out / "cluster.json"), "--objects", str(out / "workloads.yaml")]


WEBHOOK = "webhook (copies named in imagePullSecrets)"


def audit_json(*args: str) -> dict[str, Any]:
    result = run("audit", *args, "-o", "json", "--credentials-namespace", "pullpass-system")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_enabled_namespaces_by_default(files: list[str]) -> None:
    assert audit_json(*files) == {
        "pods": [
            {
                "namespace": "team-a",
                "name": "bare",
                "owner": None,
                "add": ["hub"],
                "pullFailing": False,
            },
            {
                "namespace": "team-a",
                "name": "web-1",
                "owner": "ReplicaSet/web-5d",
                "add": ["quay", "alpha-gcr"],
                "pullFailing": True,
            },
            {
                "namespace": "team-b",
                "name": "elsewhere",
                "owner": None,
                "add": [],
                "pullFailing": False,
            },
        ],
        "workloads": [
            {"namespace": "team-a", "kind": "Deployment", "name": "web", "add": ["everyone"]}
        ],
        "servedBy": {ns: WEBHOOK for ns in ("team-a", "team-b", "team-c")},
    }


def test_it_says_which_mode_serves_each_namespace(files: list[str]) -> None:
    served = audit_json(*files, "--serving", "secretless")["servedBy"]
    assert served["team-a"].startswith("secretless (the kubelet asks pullpass")
    result = run("audit", *files, "--credentials-namespace", "pullpass-system", "--serving", "both")
    assert (
        "namespace team-a served by: webhook (copies named in imagePullSecrets) and secretless"
        in (result.stdout)
    )


def test_a_namespace_named_is_audited_even_when_not_enabled(files: list[str]) -> None:
    # "off" is in project alpha: labelling it would bring the project and cluster copies.
    report = audit_json(*files, "--namespace", "off")
    assert report == {
        "pods": [
            {
                "namespace": "off",
                "name": "would-get",
                "owner": None,
                "add": ["alpha-gcr"],
                "pullFailing": False,
            }
        ],
        "workloads": [],
        "servedBy": {"off": WEBHOOK},
    }
    assert audit_json(*files, "-n", "off", "-n", "team-b")["pods"][1]["name"] == "elsewhere"


def test_text_is_a_table(files: list[str]) -> None:
    result = run("audit", *files, "--credentials-namespace", "pullpass-system")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "KIND",
        "NAME",
        "OWNER",
        "WOULD",
        "ADD",
        "PULL",
        "FAILING",
    ]
    assert lines[2].split() == [
        "team-a",
        "Pod",
        "web-1",
        "ReplicaSet/web-5d",
        "quay,alpha-gcr",
        "yes",
    ]
    # columns line up: every row starts its NAME column at the same place
    assert len({line.index(line.split()[2]) for line in lines[1:5]}) == 1
    assert lines[-1] == (
        "2 of 3 pods lack credentials (1 failing to pull); 1 of 1 workloads would get more"
    )
    assert "pw-" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            '{"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "x"}}',
            "Pod default/p: spec.containers must be a list",
        ),
        (
            '{"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": 1}}',
            "CronJob default/c: spec.jobTemplate must be an object",
        ),
        ("- 1", "document 1 is not an object"),
        ('{"kind": "Pod"}', "a Pod without metadata.name"),
    ],
)
def test_bad_objects_exit_2_with_one_line(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document)
    result = run("audit", "--objects", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"pullpass audit: {path}: ")
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "--objects", "missing.yaml"), "missing.yaml: cannot read"),
        (("audit", "-o", "yaml"), "invalid choice"),
        (("audit", "--kubeconfig", "missing-kubeconfig"), "cannot load cluster configuration"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


def package_version() -> str:
    from importlib.metadata import version

    return version("pullpass")


def test_version_from_the_package_metadata() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"pullpass {package_version()}\n"


def kubectl_plugin(*args: str) -> subprocess.CompletedProcess[str]:
    """The pinned kubectl, finding kubectl-pullpass on PATH as plugins are found."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin"}
    return subprocess.run(
        [str(VENV_BIN / "kubectl"), "pullpass", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_kubectl_finds_the_plugin_on_path() -> None:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin"}
    listed = subprocess.run(
        [str(VENV_BIN / "kubectl"), "plugin", "list", "--name-only"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "kubectl-pullpass" in listed.stdout.split(), listed.stdout + listed.stderr


def test_kubectl_pullpass_version_and_commands(files: list[str]) -> None:
    assert kubectl_plugin("--version").stdout == f"pullpass {package_version()}\n"
    audited = kubectl_plugin(
        "audit", *files, "-n", "off", "-o", "json", "--credentials-namespace", "pullpass-system"
    )
    assert audited.returncode == 0, audited.stderr
    assert [p["name"] for p in json.loads(audited.stdout)["pods"]] == ["would-get"]
    explained = kubectl_plugin(
        "explain",
        "--pod",
        "examples/pod.yaml",
        "--objects",
        "examples/credential.yaml",
        "-o",
        "json",
    )
    assert json.loads(explained.stdout)["imagePullSecrets"] == ["testquay"]


def test_kubectl_pullpass_errors_name_the_plugin() -> None:
    result = kubectl_plugin("audit", "-o", "yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("kubectl pullpass audit: "), result.stderr
