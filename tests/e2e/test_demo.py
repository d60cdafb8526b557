"""The README's main command works: `make demo` runs scripts/demo.py, checked here with --once."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_shows_the_injected_pull_secret() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--once"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "what you wrote):   imagePullSecrets: []" in done.stdout
    assert "stored:        imagePullSecrets: ['testquay']" in done.stdout
    assert "pullpass.io/injected:      'testquay'" in done.stdout
