"""Hark's secrets: API keys and tokens, kept in the OS keyring or in an encrypted file.

The backend is always chosen explicitly, never by ``keyring``'s auto-detection (which can
pick a plaintext or base64 "alt" backend without saying so):

* ``"keyring"``: the OS keyring (Secret Service on Linux, the Keychain on macOS, the Windows
  Credential Manager), probed once; :class:`SecretsUnavailable` if it cannot be used;
* ``"file"``: :class:`~src.services.encrypted_file_keyring.EncryptedFileKeyring`, scrypt +
  AES-GCM in one 0600 file;
* ``"auto"``: the OS keyring if usable, else the encrypted file. The choice is logged and
  reported by :meth:`SecretStore.describe`. There is no plaintext fallback.

``keyring`` cannot list entries, so the store keeps an index of secret *names* (never values)
as an entry of its own. Every value the store reads or writes is registered with the log
redactor, so it cannot leak into logs.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, Literal, TypeVar

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError

from src.config.redaction import REDACTOR, Redactor

__all__ = [
    "DEFAULT_SERVICE",
    "NO_PASSPHRASE_MESSAGE",
    "PASSPHRASE_ENV_VAR",
    "BackendChoice",
    "SecretStore",
    "SecretsCorrupt",
    "SecretsError",
    "SecretsLocked",
    "SecretsUnavailable",
    "open_secret_store",
    "passphrase_from_env_or_terminal",
    "validate_secret_name",
]

logger = logging.getLogger(__name__)

DEFAULT_SERVICE = "hark"
PASSPHRASE_ENV_VAR = "HARK_SECRETS_PASSPHRASE"
NO_PASSPHRASE_MESSAGE = (
    "The encrypted secrets file needs a passphrase: set the environment variable "
    f"{PASSPHRASE_ENV_VAR}, or run Hark in a terminal to be asked for it."
)

BackendChoice = Literal["auto", "keyring", "file"]

_NAME_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")
# The entry holding the list of names. ':' is not allowed in a secret name, so no secret can
# ever collide with it.
_INDEX_ENTRY = ":names"
_SECRET_SERVICE_BUS_NAME = "org.freedesktop.secrets"
_SECRET_SERVICE_PROVIDERS = {
    "gnome-keyring": "GNOME Keyring",
    "keepassxc": "KeePassXC",
    "kwalletd": "KWallet",
    "ksecretd": "KWallet",
}

T = TypeVar("T")


class SecretsError(Exception):
    """Base of every secrets error. Messages never contain a secret value."""


class SecretsUnavailable(SecretsError):
    """The requested backend cannot be used here (no keyring daemon, no D-Bus, ...)."""


class SecretsLocked(SecretsError):
    """The store exists but cannot be opened: wrong or missing passphrase, locked keyring."""


class SecretsCorrupt(SecretsError):
    """The encrypted secrets file is damaged, truncated or was modified outside Hark."""


def validate_secret_name(name: object) -> str:
    """Return ``name`` if it is a valid secret name, else raise ``ValueError``.

    Valid names are 1 to 64 characters from ``a-z``, ``0-9``, ``-``, ``_`` and ``.``. The
    rejected name is not echoed: a caller who swapped name and value would otherwise put the
    secret into an error message.
    """
    if not isinstance(name, str):
        raise ValueError(f"A secret name must be a str, not {type(name).__name__}")
    if not _NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"Invalid secret name ({len(name)} characters): use 1 to 64 characters from "
            "lowercase letters a-z, digits 0-9, '-', '_' and '.'"
        )
    return name


def passphrase_from_env_or_terminal() -> str:
    """The passphrase provider the app uses for the encrypted file.

    Reads ``HARK_SECRETS_PASSPHRASE``; failing that, asks with ``getpass`` when stdin is a
    terminal; otherwise raises :class:`SecretsLocked` saying how to provide one.
    """
    value = os.environ.get(PASSPHRASE_ENV_VAR, "")
    if value:
        return value
    try:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        interactive = False
    if interactive:
        try:
            value = getpass.getpass("Passphrase for Hark's secrets file: ")
        except (EOFError, OSError):
            value = ""
        if value:
            return value
    raise SecretsLocked(NO_PASSPHRASE_MESSAGE)


class SecretStore:
    """Named secrets of one service over an explicitly chosen keyring backend."""

    def __init__(
        self,
        backend: KeyringBackend,
        *,
        description: str,
        service: str = DEFAULT_SERVICE,
        redactor: Redactor | None = REDACTOR,
    ) -> None:
        if not service:
            raise ValueError("The secrets service name must not be empty")
        self._backend = backend
        self._description = description
        self._service = service
        self._redactor = redactor

    @property
    def backend(self) -> KeyringBackend:
        return self._backend

    @property
    def service(self) -> str:
        return self._service

    def describe(self) -> str:
        """Where secrets are kept, for people: e.g. ``Secret Service (GNOME Keyring)``."""
        return self._description

    def __repr__(self) -> str:
        return f"SecretStore({self._description!r}, service={self._service!r})"

    def get(self, name: str) -> str | None:
        """The secret called ``name``, or ``None`` if there is none."""
        validate_secret_name(name)
        value = self._call("read a secret", self._backend.get_password, self._service, name)
        if value is not None:
            self._remember(value)
        return value

    def set(self, name: str, value: str) -> None:
        """Store (or replace) the secret called ``name``."""
        validate_secret_name(name)
        if not isinstance(value, str) or not value:
            raise ValueError("A secret value must be a non-empty str (use delete() to remove one)")
        self._remember(value)
        self._call("store a secret", self._backend.set_password, self._service, name, value)
        names = self._read_index()
        if name not in names:
            self._write_index([*names, name])

    def delete(self, name: str) -> bool:
        """Remove the secret called ``name``; ``False`` if there was none."""
        validate_secret_name(name)
        try:
            self._call("delete a secret", self._backend.delete_password, self._service, name)
            existed = True
        except PasswordDeleteError:
            existed = False
        names = self._read_index()
        if name in names:
            self._write_index([n for n in names if n != name])
        return existed

    def names(self) -> list[str]:
        """The names of the stored secrets, sorted (values are never listed)."""
        return sorted(self._read_index())

    # -- internals -------------------------------------------------------------------------

    def _remember(self, value: str) -> None:
        if self._redactor is not None:
            self._redactor.add(value)

    def _read_index(self) -> list[str]:
        raw = self._call(
            "read the index of secret names",
            self._backend.get_password,
            self._service,
            _INDEX_ENTRY,
        )
        if raw is None:
            return []
        try:
            data = json.loads(raw)
            names = data["names"] if isinstance(data, dict) else None
            if not isinstance(names, list):
                raise ValueError("no list of names")
        except (ValueError, KeyError, TypeError):
            logger.warning(
                "The index of secret names in %s is damaged; starting a new one", self.describe()
            )
            return []
        valid = [n for n in names if isinstance(n, str) and _NAME_PATTERN.fullmatch(n)]
        return list(dict.fromkeys(valid))

    def _write_index(self, names: list[str]) -> None:
        if not names:
            # Leave nothing behind once the last secret is gone.
            with contextlib.suppress(PasswordDeleteError):
                self._call(
                    "update the index of secret names",
                    self._backend.delete_password,
                    self._service,
                    _INDEX_ENTRY,
                )
            return
        payload = json.dumps({"version": 1, "names": sorted(set(names))})
        self._call(
            "update the index of secret names",
            self._backend.set_password,
            self._service,
            _INDEX_ENTRY,
            payload,
        )

    def _call(self, action: str, func: Callable[..., T], *args: Any) -> T:
        """Run a backend call, mapping foreign errors to :class:`SecretsError`."""
        try:
            return func(*args)
        except (SecretsError, PasswordDeleteError):
            raise
        except KeyringLocked as exc:
            raise SecretsLocked(
                f"Could not {action}: {self.describe()} is locked ({self._safe(exc)})"
            ) from exc
        except (KeyringError, OSError) as exc:
            raise SecretsUnavailable(
                f"Could not {action} in {self.describe()}: {self._safe(exc)}"
            ) from exc
        except Exception as exc:
            # SecretStorage and jeepney errors surface from keyring's Secret Service backend
            # unwrapped; they are mapped by name so this module does not need them installed.
            error = SecretsLocked if _is_locked_error(exc) else SecretsUnavailable
            raise error(f"Could not {action} in {self.describe()}: {self._safe(exc)}") from exc

    def _safe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._redactor.redact(text) if self._redactor is not None else text


def _is_locked_error(exc: BaseException) -> bool:
    return type(exc).__name__ in {"LockedException", "PromptDismissedException"}


# -- choosing a backend ----------------------------------------------------------------------


def open_secret_store(
    backend: BackendChoice,
    file_path: Path,
    passphrase_provider: Callable[[], str] | None,
    service: str = DEFAULT_SERVICE,
    *,
    redactor: Redactor | None = REDACTOR,
) -> SecretStore:
    """Open the secrets store on the backend asked for (see the module docstring)."""
    if backend == "keyring":
        store = _open_os_keyring(service, redactor)
    elif backend == "file":
        store = _open_encrypted_file(file_path, passphrase_provider, service, redactor)
    elif backend == "auto":
        try:
            store = _open_os_keyring(service, redactor)
        except SecretsUnavailable as exc:
            logger.info("The OS keyring is not usable, so the encrypted file is used: %s", exc)
            store = _open_encrypted_file(file_path, passphrase_provider, service, redactor)
    else:
        raise ValueError(f"Unknown secrets backend {backend!r}: use 'auto', 'keyring' or 'file'")
    logger.info("Secrets are kept in: %s", store.describe())
    return store


def _open_encrypted_file(
    file_path: Path,
    passphrase_provider: Callable[[], str] | None,
    service: str,
    redactor: Redactor | None,
) -> SecretStore:
    # Imported here: `cryptography` is only loaded when the file backend is used.
    from src.services.encrypted_file_keyring import EncryptedFileKeyring

    ring = EncryptedFileKeyring(file_path, passphrase_provider)
    return SecretStore(ring, description=ring.describe(), service=service, redactor=redactor)


def _open_os_keyring(service: str, redactor: Redactor | None) -> SecretStore:
    ring, description = _os_keyring(service)
    return SecretStore(ring, description=description, service=service, redactor=redactor)


def _os_keyring(service: str) -> tuple[KeyringBackend, str]:
    """The platform's keyring backend, verified usable, and a description of it."""
    if sys.platform == "darwin":
        return _checked_backend("keyring.backends.macOS", "Keyring", "macOS Keychain", service)
    if sys.platform == "win32":
        return _checked_backend(
            "keyring.backends.Windows", "WinVaultKeyring", "Windows Credential Manager", service
        )
    ring, _ = _checked_backend(
        "keyring.backends.SecretService", "Keyring", "Secret Service", service, probe=False
    )
    provider = _probe_secret_service()
    return ring, f"Secret Service ({provider})" if provider else "Secret Service"


def _checked_backend(
    module_name: str, class_name: str, label: str, service: str, *, probe: bool = True
) -> tuple[KeyringBackend, str]:
    try:
        module = __import__(module_name, fromlist=[class_name])
        cls: type[KeyringBackend] = getattr(module, class_name)
        priority = cls.priority
    except Exception as exc:
        raise SecretsUnavailable(f"The {label} cannot be used here: {_reason(exc)}") from exc
    if not isinstance(priority, int | float) or priority <= 0:
        raise SecretsUnavailable(f"The {label} cannot be used here (priority {priority!r})")
    ring = cls()
    if probe:
        try:
            ring.get_password(service, _INDEX_ENTRY)
        except Exception as exc:
            raise SecretsUnavailable(f"The {label} did not answer: {_reason(exc)}") from exc
    return ring, label


def _probe_secret_service() -> str | None:
    """One cheap round trip to the Secret Service; returns its provider's name if known.

    Looks up the default collection (which starts an activatable daemon) without creating or
    unlocking anything, so it never shows a prompt. Without a default collection keyring
    would have to create one through a prompt, which fails where there is no display, so
    that counts as unusable.
    """
    try:
        import secretstorage
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import Proxy

        with closing(secretstorage.dbus_init()) as connection:
            if not secretstorage.check_service_availability(connection):
                raise SecretsUnavailable(
                    "The Secret Service cannot be used here: no keyring daemon (such as GNOME "
                    "Keyring or KeePassXC) is running or activatable on the D-Bus session bus"
                )
            try:
                default = secretstorage.Collection(connection)
            except secretstorage.ItemNotFoundException:
                raise SecretsUnavailable(
                    "The Secret Service has no default keyring to store secrets in (create "
                    "one in your keyring manager, e.g. Seahorse or KeePassXC)"
                ) from None
            if default.is_locked():
                logger.debug(
                    "The default Secret Service collection is locked; keyring unlocks it on use"
                )
            try:
                (pid,) = Proxy(message_bus, connection).GetConnectionUnixProcessID(
                    _SECRET_SERVICE_BUS_NAME
                )
            except Exception:
                logger.debug("Could not identify the Secret Service provider", exc_info=True)
                return None
    except SecretsUnavailable:
        raise
    except Exception as exc:
        raise SecretsUnavailable(f"The Secret Service cannot be used here: {_reason(exc)}") from exc
    return _provider_name(pid)


def _provider_name(pid: int) -> str | None:
    try:
        command = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    for prefix, name in _SECRET_SERVICE_PROVIDERS.items():
        if command.startswith(prefix):
            return name
    return command or None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, RuntimeError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
