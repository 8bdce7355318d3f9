"""Where Hark keeps things on disk, by platform convention (platformdirs).

Every path can be overridden in settings; these are only the defaults. ``HARK_HOME`` moves
all of them under one directory at once, which is what tests and portable installs want.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "hark"
CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    runtime_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def database(self) -> Path:
        return self.data_dir / "hark.db"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.bin"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "hark.sock"


def _running_from_checkout() -> bool:
    return (CHECKOUT_ROOT / "pyproject.toml").is_file() and (CHECKOUT_ROOT / "logs").is_dir()


def default_paths() -> AppPaths:
    home = os.environ.get("HARK_HOME")
    if home:
        root = Path(home).expanduser()
        return AppPaths(root / "config", root / "data", root / "run", root / "logs")
    if _running_from_checkout():
        log_dir = CHECKOUT_ROOT / "logs"
    else:
        log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs warns and falls back to a private /tmp
        # directory, which is what Hark wants anyway; the socket code checks its modes.
        warnings.simplefilter("ignore")
        runtime = platformdirs.user_runtime_dir(APP_NAME, appauthor=False)
    return AppPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        runtime_dir=Path(runtime),
        log_dir=log_dir,
    )
