"""Finds every connector in this package, so adding one means adding one file.

A module in ``src/connectors`` that defines ``CONNECTOR`` (a ``Connector``) is a connector;
modules without it (the base, this registry, the orchestrator) are skipped. Discovery is by
module name, in sorted order, so the orchestrator's instructions are stable between runs.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable

from src.connectors.base import Connector

log = logging.getLogger(__name__)

_INFRASTRUCTURE = {"base", "registry", "orchestrator"}


def discover(package: str = "src.connectors") -> list[Connector]:
    pkg = importlib.import_module(package)
    found: list[Connector] = []
    names: set[str] = set()
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in _INFRASTRUCTURE or info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        connector = getattr(module, "CONNECTOR", None)
        if connector is None:
            continue
        if not isinstance(connector, Connector):
            raise TypeError(f"{module.__name__}.CONNECTOR is not a Connector")
        if connector.name in names:
            raise ValueError(f"two connectors are named {connector.name!r}")
        names.add(connector.name)
        found.append(connector)
    return found


def by_name(connectors: Iterable[Connector]) -> dict[str, Connector]:
    return {c.name: c for c in connectors}
