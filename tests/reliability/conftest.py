"""The long load runs wait for `-m slow`, as the marker's declaration in pyproject.toml says."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("markexpr"):
        return  # an explicit -m decides
    skip = pytest.mark.skip(reason="long-running: select with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
