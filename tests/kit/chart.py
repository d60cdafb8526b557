"""Render charts/pullpass with the pinned helm and find objects in the result.

Importable from any test as `from tests.kit.chart import render` (the e2e suite uses it to
apply the chart's manifests to the real API server). This directory has no `__init__.py` on
purpose: a package named `packaging` would shadow the PyPI library of that name.

A missing tool raises `ToolMissing` with a message naming it; tests turn that into a failure,
never a skip.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "pullpass"
RELEASE = "pullpass"
NAMESPACE = "pullpass-system"
# Building helm or installing checkov from nothing takes minutes on two cores.
INSTALL_TIMEOUT = 1500

Manifest = dict[str, Any]

# What decides the rights of pullpass's ServiceAccount on the API server: its RBAC and the
# admission policy that confines its Secret writes. Suites that run pullpass under the chart's
# token apply these, so a right the chart lacks or a write its policy refuses fails a test.
ACCESS_KINDS = (
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


class ToolMissing(RuntimeError):
    """A packaging tool could not be found or built; the message says which and why."""


def _last_line(script: str, what: str) -> str:
    path = ROOT / "scripts" / script
    try:
        done = subprocess.run(
            [str(path)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolMissing(f"{what} is missing: scripts/{script} did not run ({error})") from error
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-5:])
        raise ToolMissing(
            f"{what} is missing: scripts/{script} exited {done.returncode}: {tail[:800]}"
        )
    return lines[-1]


@functools.cache
def helm_binary() -> str:
    """The pinned helm, built and cached by scripts/helm."""
    path = Path(_last_line("helm", "helm"))
    if not path.is_file():
        raise ToolMissing(f"helm is missing: scripts/helm printed {path}, which does not exist")
    return str(path)


@functools.cache
def promtool_binary() -> str:
    """The pinned promtool, built and cached by scripts/promtool."""
    path = Path(_last_line("promtool", "promtool"))
    if not path.is_file():
        raise ToolMissing(
            f"promtool is missing: scripts/promtool printed {path}, which does not exist"
        )
    return str(path)


@functools.cache
def tools_bin() -> Path:
    """The bin directory holding the pinned checkov and hadolint (scripts/tools)."""
    path = Path(_last_line("tools", "checkov/hadolint"))
    for tool in ("checkov", "hadolint"):
        if not (path / tool).is_file():
            raise ToolMissing(f"{tool} is missing: not in {path} (scripts/tools)")
    return path


@functools.cache
def crds_dir() -> Path:
    """The upstream CRDs of the chart's optional kinds, pinned and cached by scripts/crds."""
    path = Path(_last_line("crds", "the cert-manager and ServiceMonitor CRDs"))
    if not list(path.glob("*.yaml")):
        raise ToolMissing(f"CRDs are missing: scripts/crds printed {path}, which holds none")
    return path


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stderr}{done.stdout}")
    return done


def render_text(
    values: dict[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> str:
    """`helm template` of the chart with these values, as YAML text."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="pullpass-values-") as file:
        yaml.safe_dump(values or {}, file)
        file.flush()
        done = helm(
            "template",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--values",
            file.name,
        )
    return done.stdout


def render(
    values: dict[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[Manifest]:
    """The chart's objects for these values, one dict each, in helm's install order."""
    text = render_text(values, release=release, namespace=namespace)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_notes(values: dict[str, Any] | None = None) -> str:
    """The install notes (NOTES.txt) for these values. `helm template` leaves NOTES.txt out, so
    a copy of the chart renders it through `tpl` into a ConfigMap-like document."""
    with tempfile.TemporaryDirectory(prefix="pullpass-notes-") as tmp:
        chart = Path(tmp) / "pullpass"
        shutil.copytree(CHART, chart)
        (chart / "files" / "notes.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
        show = "templates/zz-notes.yaml"
        (chart / show).write_text('notes: {{ tpl (.Files.Get "files/notes.txt") . | toJson }}\n')
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=tmp) as file:
            yaml.safe_dump(values or {}, file)
            file.flush()
            args = ("template", RELEASE, str(chart), "-n", NAMESPACE, "-f", file.name)
            done = helm(*args, "--show-only", show)
    notes: str = yaml.safe_load(done.stdout)["notes"]
    return notes


def find(objects: Iterable[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        o
        for o in objects
        if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: Iterable[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(objects: Iterable[Manifest]) -> dict[str, Any]:
    """The pullpass container of the Deployment."""
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = pod["containers"]
    assert [c["name"] for c in containers] == ["pullpass"]
    return containers[0]


def access_objects(objects: Iterable[Manifest]) -> list[Manifest]:
    """The rendered objects of ACCESS_KINDS, in install order (a policy before its binding)."""
    return [o for o in objects if o.get("kind") in ACCESS_KINDS]
