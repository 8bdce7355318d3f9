"""The OAuth exception tree: every failure of a sign-in or a token call, as a sentence.

Connectors and front ends map these at their boundary (a connector to ``ConnectorError``, the
CLI to an exit code). Messages are safe to show: they never contain a token, a code or a
client secret, only the provider's own ``error`` / ``error_description`` words.
"""

from __future__ import annotations


class OAuthError(Exception):
    """A sign-in or token failure the user should hear about in plain words.

    ``retryable`` says whether trying again later may help (network, 5xx); ``status`` is the
    HTTP status when there was one; ``error_code`` the provider's ``error`` field (RFC 6749
    section 5.2), e.g. ``invalid_grant``.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.error_code = error_code


class NotConnected(OAuthError):
    """No tokens (or no client id) are stored for the provider: the user must connect first."""


class ReconnectNeeded(OAuthError):
    """The stored grant no longer works (revoked, expired, ``invalid_grant``): connect again."""


class AuthorizationDenied(OAuthError):
    """The provider answered the browser step with an ``error`` (e.g. ``access_denied``)."""


class StateMismatch(OAuthError):
    """The redirect's ``state`` is not the one sent: the answer is not for this request."""


class AuthorizationTimeout(OAuthError):
    """No redirect reached the loopback listener in time."""
