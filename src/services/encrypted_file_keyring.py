"""A ``keyring`` backend that keeps secrets in one passphrase-encrypted file.

The file is a JSON envelope::

    {"format": "hark-secrets", "version": 1,
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "length": 32},
     "salt": <b64, 16 bytes>, "cipher": "AES-256-GCM", "nonce": <b64, 12 bytes>,
     "key_check": <b64>, "ciphertext": <b64>}

The key is derived from the passphrase with scrypt; the payload (a JSON object of services,
user names and passwords) is sealed with AES-GCM under a fresh nonce on every write, with all
fields but the ciphertext as associated data, so no header field can be altered unnoticed.
``key_check`` (an HMAC of a fixed label under the key) tells a wrong passphrase apart from a
damaged file; it costs an attacker the same scrypt work per guess as the ciphertext itself.

The file is created 0600 (by ``os.open``, never chmod afterwards) in a 0700 directory and
replaced atomically. The key is derived once per instance and cached; the passphrase is not
kept. Writes from several processes are serialised with an advisory lock on the directory.

This backend is never chosen by keyring's auto-detection: its ``priority`` raises, and Hark
constructs it explicitly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

from src.services.secrets import (
    NO_PASSPHRASE_MESSAGE,
    SecretsCorrupt,
    SecretsLocked,
    SecretsUnavailable,
)

try:
    import fcntl
except ImportError:  # Windows: single-writer assumption, see _write_lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["FILE_FORMAT", "FORMAT_VERSION", "EncryptedFileKeyring", "KdfParams"]

logger = logging.getLogger(__name__)

FILE_FORMAT = "hark-secrets"
FORMAT_VERSION = 1
_CIPHER = "AES-256-GCM"
_SALT_BYTES = 16
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_CHECK_LABEL = b"hark-secrets key check v1"
_MAX_FILE_BYTES = 16 * 1024 * 1024
_WRONG_PASSPHRASE = "The secrets file could not be unlocked: wrong passphrase?"


@dataclass(frozen=True)
class KdfParams:
    """scrypt parameters, stored in the file so they can be raised later."""

    n: int = 2**15
    r: int = 8
    p: int = 1
    length: int = _KEY_BYTES

    def as_json(self) -> dict[str, Any]:
        return {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p, "length": self.length}

    @classmethod
    def from_json(cls, data: object) -> KdfParams:
        if not isinstance(data, dict) or data.get("name") != "scrypt":
            raise ValueError("unknown key derivation")
        n, r, p, length = (_int_field(data, k) for k in ("n", "r", "p", "length"))
        # Bounds keep a crafted file from demanding gigabytes of memory or hours of CPU.
        if n & (n - 1) or not 2**14 <= n <= 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise ValueError("key derivation parameters out of range")
        if length != _KEY_BYTES:
            raise ValueError("unsupported key length")
        return cls(n=n, r=r, p=p, length=length)


def _int_field(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        raise ValueError("bad key derivation parameters")
    return value


@dataclass(frozen=True)
class _Key:
    salt: bytes
    params: KdfParams
    key: bytes


@dataclass(frozen=True)
class _Envelope:
    header: dict[str, Any]
    params: KdfParams
    salt: bytes
    nonce: bytes
    key_check: bytes
    ciphertext: bytes


Entries = dict[str, dict[str, str]]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"missing {what}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"bad {what}") from None


def _associated_data(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _key_check(key: bytes) -> bytes:
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).digest()


def _derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    kdf = Scrypt(salt=salt, length=params.length, n=params.n, r=params.r, p=params.p)
    return kdf.derive(passphrase.encode("utf-8"))


def _display_path(path: Path) -> str:
    try:
        return f"~/{path.relative_to(Path.home()).as_posix()}"
    except (ValueError, RuntimeError):
        return str(path)


class EncryptedFileKeyring(KeyringBackend):
    """Secrets in one scrypt + AES-GCM encrypted file; see the module docstring."""

    def __init__(
        self,
        path: Path,
        passphrase_provider: Callable[[], str] | None,
        *,
        kdf_params: KdfParams | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._path = Path(path).expanduser().absolute()
        self._passphrase_provider = passphrase_provider
        self._new_file_params = kdf_params or KdfParams()
        self._key: _Key | None = None
        self._lock = threading.RLock()

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("Hark's encrypted file keyring is only used when chosen explicitly")

    @property
    def path(self) -> Path:
        return self._path

    def describe(self) -> str:
        return f"encrypted file {_display_path(self._path)}"

    def __str__(self) -> str:
        return f"EncryptedFileKeyring({self._path})"

    __repr__ = __str__

    # -- the keyring API -------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock, self._write_lock():
            entries = self._load()
            entries.setdefault(service, {})[username] = password
            self._save(entries)

    def delete_password(self, service: str, username: str) -> None:
        with self._lock, self._write_lock():
            entries = self._load()
            users = entries.get(service, {})
            if username not in users:
                raise PasswordDeleteError("No such secret")
            del users[username]
            if not users:
                del entries[service]
            self._save(entries)

    # -- reading ---------------------------------------------------------------------------

    def _load(self) -> Entries:
        try:
            raw = self._read_file()
        except FileNotFoundError:
            return {}
        envelope = self._parse(raw)
        key = self._unlock(envelope)
        try:
            plaintext = AESGCM(key.key).decrypt(
                envelope.nonce, envelope.ciphertext, _associated_data(envelope.header)
            )
        except InvalidTag:
            raise self._corrupt("its contents fail the integrity check") from None
        return self._decode_entries(plaintext)

    def _read_file(self) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self._path, flags)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise SecretsUnavailable(
                f"Cannot read the secrets file {self._path}: {exc.strerror or exc}"
            ) from exc
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
        if len(data) > _MAX_FILE_BYTES:
            raise self._corrupt("it is far too large")
        return data

    def _parse(self, raw: bytes) -> _Envelope:
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise self._corrupt("it is not a JSON envelope") from None
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise self._corrupt("it is not a Hark secrets file")
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise SecretsUnavailable(
                f"The secrets file {self._path} has format version {version!r}; this Hark "
                f"reads version {FORMAT_VERSION} (was it written by a newer Hark?)"
            )
        try:
            params = KdfParams.from_json(document.get("kdf"))
            if document.get("cipher") != _CIPHER:
                raise ValueError("unknown cipher")
            salt = _unb64(document.get("salt"), "salt")
            nonce = _unb64(document.get("nonce"), "nonce")
            key_check = _unb64(document.get("key_check"), "key check")
            ciphertext = _unb64(document.get("ciphertext"), "ciphertext")
            if len(salt) < _SALT_BYTES or len(nonce) != _NONCE_BYTES or len(key_check) != 32:
                raise ValueError("bad field sizes")
            if len(ciphertext) < 16:
                raise ValueError("ciphertext too short")
        except ValueError as exc:
            raise self._corrupt(str(exc)) from None
        header = {k: v for k, v in document.items() if k != "ciphertext"}
        return _Envelope(header, params, salt, nonce, key_check, ciphertext)

    def _unlock(self, envelope: _Envelope) -> _Key:
        cached = self._key
        if (
            cached is not None
            and (cached.salt, cached.params) == (envelope.salt, envelope.params)
            and hmac.compare_digest(_key_check(cached.key), envelope.key_check)
        ):
            return cached
        key = _Key(
            envelope.salt,
            envelope.params,
            _derive(self._passphrase(), envelope.salt, envelope.params),
        )
        if not hmac.compare_digest(_key_check(key.key), envelope.key_check):
            raise SecretsLocked(_WRONG_PASSPHRASE)
        self._key = key
        return key

    def _decode_entries(self, plaintext: bytes) -> Entries:
        # No exception chaining from here on: the plaintext holds the secrets.
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            document = None
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, dict) or not all(
            isinstance(service, str)
            and isinstance(users, dict)
            and all(isinstance(u, str) and isinstance(p, str) for u, p in users.items())
            for service, users in entries.items()
        ):
            raise self._corrupt("its decrypted contents are not in the expected shape")
        return entries

    def _passphrase(self) -> str:
        if self._passphrase_provider is None:
            raise SecretsLocked(NO_PASSPHRASE_MESSAGE)
        passphrase = self._passphrase_provider()
        if not isinstance(passphrase, str) or not passphrase:
            raise SecretsLocked(NO_PASSPHRASE_MESSAGE)
        return passphrase

    def _corrupt(self, reason: str) -> SecretsCorrupt:
        return SecretsCorrupt(
            f"The secrets file {self._path} is damaged or was modified outside Hark ({reason}). "
            "Restore it from a backup, or move it aside to start an empty one."
        )

    # -- writing ---------------------------------------------------------------------------

    def _save(self, entries: Entries) -> None:
        key = self._key
        if key is None:
            # A new file: a fresh salt, and the key derived once from the passphrase.
            params = self._new_file_params
            salt = os.urandom(_SALT_BYTES)
            key = _Key(salt, params, _derive(self._passphrase(), salt, params))
            self._key = key
        nonce = os.urandom(_NONCE_BYTES)
        header: dict[str, Any] = {
            "format": FILE_FORMAT,
            "version": FORMAT_VERSION,
            "kdf": key.params.as_json(),
            "salt": _b64(key.salt),
            "cipher": _CIPHER,
            "nonce": _b64(nonce),
            "key_check": _b64(_key_check(key.key)),
        }
        plaintext = json.dumps({"entries": entries}, ensure_ascii=False).encode("utf-8")
        ciphertext = AESGCM(key.key).encrypt(nonce, plaintext, _associated_data(header))
        document = {**header, "ciphertext": _b64(ciphertext)}
        self._write_atomic(json.dumps(document, indent=1).encode("ascii") + b"\n")

    def _write_atomic(self, data: bytes) -> None:
        directory = self._path.parent
        self._ensure_private_dir(directory)
        temp = directory / f".{self._path.name}.{os.urandom(6).hex()}.tmp"
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | os.O_EXCL
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_BINARY", 0)
            | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            fd = os.open(temp, flags, 0o600)
        except OSError as exc:
            raise SecretsUnavailable(
                f"Cannot write the secrets file in {directory}: {exc.strerror or exc}"
            ) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._fsync_dir(directory)

    @staticmethod
    def _ensure_private_dir(directory: Path) -> None:
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            return
        if os.name == "posix" and directory.stat().st_mode & 0o077:
            logger.warning(
                "The directory of the secrets file, %s, is accessible to other users; "
                "consider chmod 700",
                directory,
            )

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        if os.name != "posix":
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:
            logger.debug("fsync of %s failed", directory, exc_info=True)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise read-modify-write cycles between processes (advisory, POSIX only)."""
        directory = self._path.parent
        self._ensure_private_dir(directory)
        if fcntl is None:
            yield
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
