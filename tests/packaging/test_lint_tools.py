"""checkov over the rendered chart and the Dockerfile, hadolint over the Dockerfile.

Every checkov finding is either fixed or skipped in .checkov.yaml with a written reason; the
hadolint config ignores nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.kit.chart import ROOT, render_text

pytestmark = pytest.mark.timeout(1800)

VALUE_COMBINATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "cert-manager": {"certificates": {"mode": "cert-manager"}},
    "rancher": {"rancher": True},
    "service-monitor": {"serviceMonitor": {"enabled": True}},
    "no-replication": {"replication": {"enabled": False}},
    "secretless": {"credentialProvider": {"enabled": True}},
}


def _checkov(tools: Path, target: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(tools / "checkov"),
            "--config-file",
            str(ROOT / ".checkov.yaml"),
            "--directory",
            str(target),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=target,
    )
    # JSON on stdout even when checks fail (exit 1); anything else is a broken run.
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not report (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return reports if isinstance(reports, list) else [reports]


def test_checkov_finds_nothing_unexplained(tools: Path, tmp_path: Path) -> None:
    for name, values in VALUE_COMBINATIONS.items():
        (tmp_path / f"chart-{name}.yaml").write_text(render_text(values))
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    reports = _checkov(tools, tmp_path)
    by_type = {r["check_type"]: r for r in reports}
    assert set(by_type) == {"kubernetes", "dockerfile"}, sorted(by_type)
    failures = [
        f"{c['check_id']} {c['check_name']} on {c['resource']} ({Path(c['file_path']).name})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failures == [], "\n".join(failures)
    # Guard against a vacuous pass: checkov really looked at the objects.
    assert by_type["kubernetes"]["summary"]["passed"] > 100
    assert by_type["dockerfile"]["summary"]["passed"] > 10


def test_every_checkov_skip_has_a_reason() -> None:
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s*-\s*CKV", line)]
    assert skips, "no skips found: update this test if none are needed any more"
    for i in skips:
        assert lines[i - 1].strip().startswith("#"), f"no reason above {lines[i].strip()}"


def test_hadolint_is_clean(tools: Path) -> None:
    done = subprocess.run(
        [
            str(tools / "hadolint"),
            "--config",
            str(ROOT / ".hadolint.yaml"),
            "--no-color",
            str(ROOT / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_dockerfile_shape() -> None:
    # What hadolint and checkov do not check: the contract from the packaging issue.
    text = (ROOT / "Dockerfile").read_text()
    # The Python base is a build argument, declared before the first FROM so FROM can use it, with
    # the official slim image as its default (scripts/images passes a local Debian base).
    default = re.search(r"^ARG PYTHON_BASE=(\S+)$", text, re.MULTILINE)
    assert default, "no ARG PYTHON_BASE=<default>"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", default.group(1)), (
        default.group(1)
    )
    assert default.start() < text.index("\nFROM ")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert [base for base, _ in stages] == ["${PYTHON_BASE}", "${PYTHON_BASE}"], stages
    final = text.split("FROM ${PYTHON_BASE}\n")[-1]
    assert "COPY --from=builder /opt/pullpass /opt/pullpass" in final
    assert re.search(r"^USER 65532:65532$", final, re.MULTILINE)
    assert 'ENTRYPOINT ["pullpass"]' in final
    assert 'CMD ["serve"]' in final
    # No package installs or compilers in the final stage.
    assert not re.search(r"^RUN\b", final, re.MULTILINE)
