"""Wiring for every suite: the control-plane suites get the `e2e` marker and a build first."""

from pathlib import Path

import pytest
from e2e.fixtures import prebuild

HERE = Path(__file__).parent
CONTROL_PLANE_SUITES = [HERE / "e2e", HERE / "e2e_scope", HERE / "e2e_chart", HERE / "e2e_policy"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in those suites needs the local control plane: `-m "not e2e"` deselects them."""
    for item in items:
        if any(suite in Path(str(item.path)).parents for suite in CONTROL_PLANE_SUITES):
            item.add_marker(pytest.mark.e2e)


def pytest_collection_finish(session: pytest.Session) -> None:
    prebuild(session)
