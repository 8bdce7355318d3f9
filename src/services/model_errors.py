"""Model-server failures mapped to sentences a user can act on.

The OpenAI SDK raises its own exception tree; this maps it at the boundary into
``ModelError`` with ``retryable`` set, and with text that never carries the key.
"""

from __future__ import annotations


class ModelError(Exception):
    """A model request failed; ``message`` is for the user, ``retryable`` for the caller."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status

    @property
    def key_refused(self) -> bool:
        """The server does not accept the key: only a new key helps, not a retry."""
        return self.status == 401


def explain_model_error(exc: BaseException, base_url: str | None) -> ModelError:
    import openai

    where = base_url or "api.openai.com"
    if isinstance(exc, openai.AuthenticationError):
        return ModelError(
            "The model server rejected the OpenAI key. Store a valid one with "
            "`python main.py keys set openai` (or set OPENAI_API_KEY).",
            retryable=False,
            status=exc.status_code,
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return ModelError(
            "This OpenAI key is not allowed to use that model.", retryable=False, status=403
        )
    if isinstance(exc, openai.RateLimitError):
        code = getattr(exc, "code", None)
        if code == "insufficient_quota":
            return ModelError(
                "The OpenAI account has run out of quota; check billing at platform.openai.com.",
                retryable=False,
                status=429,
            )
        return ModelError("The model server is rate-limiting; try again shortly.", retryable=True)
    if isinstance(exc, openai.NotFoundError):
        return ModelError(
            f"The model server at {where} does not know that model or endpoint.",
            retryable=False,
            status=404,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"The model server at {where} did not answer in time.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"Could not reach the model server at {where}.", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        return ModelError(
            f"The model server answered with an error (HTTP {exc.status_code}).",
            retryable=exc.status_code >= 500,
            status=exc.status_code,
        )
    return ModelError(f"The answer could not be completed ({type(exc).__name__}).", retryable=False)
