"""Errors of the model server, each with its HTTP status (part of the one exception tree)."""

from __future__ import annotations

from ..exceptions import ModelNotFoundError, ModelOpsError, ValidationError


class InvalidInput(ValidationError):
    """The request is malformed or does not match the model's signature. HTTP 400."""


class UnknownModel(ModelNotFoundError):
    """The request names a model or version this server does not serve. HTTP 404."""


class PayloadTooLarge(ValidationError):
    """The request body is larger than the server's limit. HTTP 413."""

    http_status = 413


class Unauthorized(ModelOpsError):
    """The server requires a bearer token and the request has none, or a wrong one. HTTP 401.

    The message is the same in both cases, so that a client learns nothing about which part was wrong.
    """

    http_status = 401


class RateLimited(ModelOpsError):
    """The client sent more requests per second than its limit allows. HTTP 429."""

    http_status = 429
    retry_after = 1


class Overloaded(ModelOpsError):
    """The server sheds load: its queue is full, or its circuit breaker is open. HTTP 503."""

    http_status = 503

    def __init__(self, message: str, *, retry_after: float = 1, hint: str | None = None) -> None:
        self.retry_after = max(1, int(round(retry_after)))
        super().__init__(message, hint=hint)


class InferenceTimeout(ModelOpsError):
    """The request waited longer than the server's request timeout. HTTP 504."""

    http_status = 504


class ModelFailed(ModelOpsError):
    """The model raised while predicting. HTTP 500; the server keeps running."""

    http_status = 500
