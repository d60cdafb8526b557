"""`python -m app` as a user types it, from the repository's root."""

import subprocess
from pathlib import Path

from tests.kit.serving import PULLPASS

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PULLPASS, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
