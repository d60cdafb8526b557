"""`pullpass audit` and `kubectl pullpass` against the real API server.

Pods never run here (no kubelet): a pull failure is written through the status subresource, as
a kubelet would write it. A Deployment created before its namespace's credential stands for pods
admitted with nothing during an outage.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.shell.cli.main import main
from app.shell.cluster import listing
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.control_plane import CREDENTIALS_NAMESPACE
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, apply_pod, create_namespace, docker_registry_secret, unique

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scene(kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords) -> dict[str, Any]:
    """An enabled namespace after an outage, and one not yet enabled, in a project."""
    enabled = create_namespace(kubectl, unique("audit-on"))
    kubectl(
        "create", "deployment", "web", "-n", enabled, "--image=quay.io/team/web:1", "--replicas=2"
    )
    pods = eventually(
        lambda: (
            (items := kubectl.json("get", "pods", "-n", enabled, "-l", "app=web")["items"])
            and len(items) == 2
            and items
        ),
        60,
        "the Deployment's two pods",
        every=0.5,
    )
    assert all(not p["spec"].get("imagePullSecrets") for p in pods)
    docker_registry_secret(kubectl, passwords, enabled, "quay", "quay.io")
    late = apply_pod(kubectl, objects.pod(enabled, "quay.io/team/web:1", name="late"))
    assert [r["name"] for r in late["spec"]["imagePullSecrets"]] == ["quay"]
    stuck = sorted(p["metadata"]["name"] for p in pods)[0]
    status = {
        "status": {
            "containerStatuses": [
                {
                    "name": "web",
                    "image": "quay.io/team/web:1",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "unauthorized"}},
                }
            ]
        }
    }
    kubectl(
        "patch",
        "pod",
        stuck,
        "-n",
        enabled,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )

    project = unique("proj")
    source = unique("src")
    docker_registry_secret(kubectl, passwords, CREDENTIALS_NAMESPACE, source, "gcr.io")
    kubectl(
        "label", "secret", source, "-n", CREDENTIALS_NAMESPACE, f"pullpass.io/project={project}"
    )
    off = create_namespace(
        kubectl, unique("audit-off"), enabled=False, labels={"pullpass.io/project": project}
    )
    apply_pod(kubectl, objects.pod(off, "gcr.io/p/x:1", name="before"))
    owner = kubectl.json("get", "pod", stuck, "-n", enabled)["metadata"]["ownerReferences"][0]
    return {
        "enabled": enabled,
        "off": off,
        "stuck": stuck,
        "source": source,
        "pods": sorted(p["metadata"]["name"] for p in pods),
        "replica_set": owner["name"],
    }


def audit(kubeconfig: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "audit",
            "--kubeconfig",
            str(kubeconfig),
            "-o",
            "json",
            "--credentials-namespace",
            CREDENTIALS_NAMESPACE,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def only(report: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The namespace's pod and workload rows (`servedBy` is checked on its own)."""
    return {
        key: [r for r in rows if r["namespace"] == namespace]
        for key, rows in report.items()
        if key != "servedBy"
    }


def test_enabled_namespace_after_an_outage(kubeconfig: Path, scene: dict[str, Any]) -> None:
    ns, rs = scene["enabled"], scene["replica_set"]
    report = audit(kubeconfig)
    assert report["servedBy"][ns] == "webhook (copies named in imagePullSecrets)"
    assert only(report, ns) == {
        "pods": [
            {"namespace": ns, "name": "late", "owner": None, "add": [], "pullFailing": False},
            *(
                {
                    "namespace": ns,
                    "name": name,
                    "owner": f"ReplicaSet/{rs}",
                    "add": ["quay"],
                    "pullFailing": name == scene["stuck"],
                }
                for name in scene["pods"]
            ),
        ],
        # The owned ReplicaSet is left to its Deployment.
        "workloads": [{"namespace": ns, "kind": "Deployment", "name": "web", "add": ["quay"]}],
    }
    assert only(report, scene["off"]) == {"pods": [], "workloads": []}


def test_a_namespace_named_before_it_is_enabled(kubeconfig: Path, scene: dict[str, Any]) -> None:
    off = scene["off"]
    assert audit(kubeconfig, "--namespace", off) == {
        "pods": [
            {
                "namespace": off,
                "name": "before",
                "owner": None,
                "add": [scene["source"]],
                "pullFailing": False,
            }
        ],
        "workloads": [],
        "servedBy": {off: "webhook (copies named in imagePullSecrets)"},
    }


def test_pages_of_one_give_the_same_report(
    kubeconfig: Path, scene: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every list follows `continue`: with one item a page, nothing is lost or repeated."""
    calls: list[dict[str, Any]] = []
    real = listing.call_json

    def counted(call: Any, *args: Any, **params: Any) -> dict[str, Any]:
        calls.append(params)
        return real(call, *args, **params)

    monkeypatch.setattr(listing, "PAGE", 1)
    monkeypatch.setattr(listing, "call_json", counted)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "audit",
                "--kubeconfig",
                str(kubeconfig),
                "-n",
                scene["enabled"],
                "-o",
                "json",
                "--credentials-namespace",
                CREDENTIALS_NAMESPACE,
            ]
        )
    assert code == 0
    paged = json.loads(out.getvalue())
    assert only(paged, scene["enabled"]) == only(audit(kubeconfig), scene["enabled"])
    assert all(c["limit"] == 1 for c in calls)
    assert sum(1 for c in calls if c["_continue"]) >= 3, "the three pods took three pages"


def test_kubectl_pullpass_honours_kubeconfig_context_and_namespace(
    kubeconfig: Path, scene: dict[str, Any], tmp_path: Path
) -> None:
    """The current context is broken; `--context` picks a working one whose namespace holds the
    sources, so no `--credentials-namespace` is needed."""
    config = yaml.safe_load(kubeconfig.read_text())
    good = config["contexts"][0]
    config["contexts"].append(
        {"name": "audit", "context": {**good["context"], "namespace": CREDENTIALS_NAMESPACE}}
    )
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append(
        {"name": "broken", "context": {"cluster": "nowhere", "user": good["context"]["user"]}}
    )
    config["current-context"] = "broken"
    copy = tmp_path / "kubeconfig"
    copy.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin"}

    def plugin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "kubectl"), "pullpass", *args, "--kubeconfig", str(copy)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    done = plugin("audit", "--context", "audit", "-n", scene["off"], "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pods"][0]["add"] == [scene["source"]]
    pod = tmp_path / "pod.yaml"
    pod.write_text(json.dumps(objects.pod("", "quay.io/team/web:2", name="p")))
    done = plugin(
        "explain", "--pod", str(pod), "--context", "audit", "-n", scene["enabled"], "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imagePullSecrets"] == ["quay"]
    broken = plugin("audit", "-n", scene["off"])
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1, broken.stderr
    assert "cannot read the cluster" in broken.stderr
