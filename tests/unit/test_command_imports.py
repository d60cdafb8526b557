"""`explain`, `audit` and `policy manifests` load neither the server nor the leader's workers.

They run on a laptop, often many times in a row; `serve`'s imports (uvicorn, the web app, the
replicator, repair, the policy writer) only cost them time. Checked in a fresh interpreter, as
this one has imported everything already.
"""

import subprocess
import sys

import pytest

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
