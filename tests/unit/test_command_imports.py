"""`explain`, `audit` and `policy manifests` load neither the server nor the leader's workers.

They run on a laptop, often many times in a row; `serve`'s imports (uvicorn, the web app, the
replicator, repair, the policy writer) only cost them time. Checked in a fresh interpreter, as
this one has imported everything already.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVER_ONLY = (
    "uvicorn",
    "uvloop",
    "fastapi",
    "app.shell.cli.serve",
    "app.shell.web",
    "app.shell.cluster.leader",
    "app.shell.cluster.leader_work",
    "app.shell.cluster.replicator",
    "app.shell.cluster.policy_writer",
    "app.shell.cluster.repair",
)


@pytest.mark.parametrize("command", ["explain", "audit", "policy"])
def test_a_command_without_the_server_imports_none_of_it(command: str) -> None:
    check = (
        "import sys\n"
        f"import app.shell.cli.{command}\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SERVER_ONLY!r})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_the_check_sees_the_server() -> None:
    check = "import sys, uvicorn; print('uvicorn' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "True"


OVER_FILES = {
    "explain": ["explain", "--pod", "examples/pod.yaml", "--objects", "examples/credential.yaml"],
    "audit": ["audit", "--objects", "examples/credential.yaml", "--objects", "examples/pod.yaml"],
}


@pytest.mark.parametrize("command", sorted(OVER_FILES))
def test_a_command_over_objects_files_imports_no_kubernetes_client(command: str) -> None:
    """Only a live cluster needs the client library: loading it is most of such a run's time."""
    check = (
        "import contextlib, io, sys\n"
        "from app.shell.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main({OVER_FILES[command]!r})\n"
        "print(code, bool(out.getvalue()))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'urllib3'}))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert ran.stdout.splitlines() == ["0 True", "[]"], ran.stdout + ran.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--objects", "examples/credential.yaml"],
        ["serve", "--admission=policy", "--objects", "examples/credential.yaml"],
    ],
)
def test_serve_usage_errors_come_before_the_server_loads(argv: list[str]) -> None:
    """A usage error is one line and exit 2 at once, not after uvicorn and the workers load."""
    check = (
        "import sys\n"
        "from app.shell.cli.main import main\n"
        f"code = main({argv!r})\n"
        f"print(code, sorted(m for m in sys.modules if m.startswith({SERVER_ONLY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "2 []"
