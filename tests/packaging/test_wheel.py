"""The Dockerfile's install route, without a Docker engine: wheel, pip-less venv, entry point.

The image is built from the project's wheel alone, so a module left out of the package or a
dependency missing from pyproject.toml breaks it while the editable checkout still works. This
follows the builder stage step by step and runs the installed `pullpass` from outside the
checkout.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.timeout(900)


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv_text = [str(a) for a in argv]
    done = subprocess.run(argv_text, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the builder stage leaves in /opt/pullpass (the .venv has locks/build.txt's backend)."""
    work = tmp_path_factory.mktemp("image")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    wheel_argv = ("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", work / "wheels")
    run(*pip, *wheel_argv, ROOT, cwd=work)
    [wheel] = (work / "wheels").glob("pullpass-*.whl")
    venv = work / "opt-pullpass"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    into = (*pip, "--python", venv / "bin" / "python", "install", "--quiet")
    run(*into, "--require-hashes", "-r", ROOT / "locks" / "runtime.txt", cwd=work)
    run(*into, "--no-deps", wheel, cwd=work)
    [aio] = venv.glob("lib/python3*/site-packages/kubernetes/aio")
    shutil.rmtree(aio)
    sbom = run(venv / "bin" / "python", ROOT / "scripts" / "sbom.py", cwd=work)
    (venv / "sbom.cdx.json").write_text(sbom.stdout)
    return venv


def test_the_image_venv_has_pullpass_and_no_pip(image_venv: Path) -> None:
    assert (image_venv / "bin" / "pullpass").exists()
    assert not (image_venv / "bin" / "pip").exists()
    where = run(
        image_venv / "bin" / "python", "-c", "import app; print(app.__file__)", cwd=image_venv
    )
    assert where.stdout.strip().startswith(str(image_venv)), where.stdout


def test_installed_pullpass_explains_the_example(image_venv: Path, tmp_path: Path) -> None:
    done = run(
        image_venv / "bin" / "pullpass",
        "explain",
        "--pod",
        EXAMPLES / "pod.yaml",
        "--objects",
        EXAMPLES / "namespace.yaml",
        "--objects",
        EXAMPLES / "credential.yaml",
        "-o",
        "json",
        cwd=tmp_path,
    )
    answer = json.loads(done.stdout)
    assert answer["imagePullSecrets"] == ["testquay"], answer


def test_installed_pullpass_serve_starts_every_module_it_needs(
    image_venv: Path, tmp_path: Path
) -> None:
    """`serve --help` imports the whole server stack (uvicorn, uvloop, kubernetes client)."""
    done = run(image_venv / "bin" / "pullpass", "serve", "--help", cwd=tmp_path)
    assert "--objects" in done.stdout
    imports = (
        "import app.shell.cli.serve, app.shell.cluster.feed, app.shell.cluster.reflector,"
        " app.shell.cluster.replicator, app.shell.cluster.selfcert, uvloop, httptools"
    )
    run(image_venv / "bin" / "python", "-c", imports, cwd=tmp_path)


def test_the_image_runs_without_the_clients_asyncio_twin() -> None:
    """The Dockerfile drops kubernetes/aio; nothing in app/ may import it."""
    assert "kubernetes/aio" in (ROOT / "Dockerfile").read_text()
    sources = [p.read_text() for p in (ROOT / "app").rglob("*.py")]
    assert not [s for s in sources if "kubernetes.aio" in s or "kubernetes import aio" in s]


def _locked(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9][a-z0-9.-]*)==(\S+)", lock.read_text(), re.M))


def test_the_image_carries_an_sbom_of_exactly_what_it_installed(image_venv: Path) -> None:
    """CycloneDX JSON at /opt/pullpass/sbom.cdx.json: pullpass, every locked package, Python."""
    assert "scripts/sbom.py > /opt/pullpass/sbom.cdx.json" in (ROOT / "Dockerfile").read_text()
    bom = json.loads((image_venv / "sbom.cdx.json").read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", bom["serialNumber"])
    main = bom["metadata"]["component"]
    assert (main["type"], main["name"], main["purl"]) == (
        "application",
        "pullpass",
        "pkg:pypi/pullpass@0.1.0",
    )
    libraries = {c["name"]: c["version"] for c in bom["components"] if c["type"] == "library"}
    assert libraries == _locked(ROOT / "locks" / "runtime.txt")
    for component in bom["components"]:
        assert component["purl"].endswith(f"/{component['name']}@{component['version']}")
    [python] = [c for c in bom["components"] if c["type"] == "platform"]
    assert python["name"] == "cpython"
