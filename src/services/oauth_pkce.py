"""PKCE (RFC 7636) and the ``state`` value: the two secrets of one browser round trip.

The verifier binds the authorization code to this process (a code stolen from the redirect is
useless without it); ``state`` ties the redirect to this request (a forged or replayed redirect
is refused before any token request). Both come from the OS CSPRNG via ``secrets``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field

VERIFIER_BYTES = 64
"""64 random bytes give an 86-character base64url verifier (RFC 7636 allows 43 to 128)."""

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def base64url(data: bytes) -> str:
    """BASE64URL without padding, as RFC 7636 appendix A defines it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def is_valid_verifier(verifier: str) -> bool:
    """True for 43-128 characters from the RFC 7636 unreserved set."""
    return bool(_VERIFIER.fullmatch(verifier))


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))``: the S256 code challenge."""
    return base64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    """An unguessable ``state`` value (32 random bytes, base64url)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Pkce:
    """A verifier and its S256 challenge; the verifier is kept out of ``repr``."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        verifier = base64url(secrets.token_bytes(VERIFIER_BYTES))
        return cls(verifier=verifier, challenge=s256_challenge(verifier))
