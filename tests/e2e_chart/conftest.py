"""Chart suite wiring: the shared fixtures (its own control plane), a build first, the marker."""

from pathlib import Path

import pytest
from e2e.fixtures import (  # noqa: F401 - fixtures are found by name
    control_plane,
    kubeconfig,
    kubectl,
    passwords,
    prebuild,
)

HERE = Path(__file__).parent


def pytest_collection_finish(session: pytest.Session) -> None:
    prebuild(session, HERE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the local control plane: `-m "not e2e"` deselects them."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
