"""One error vocabulary for the whole server.

Every error a client can cause is a `QMSError` with an HTTP status and a stable machine code.
The domain raises them without knowing about HTTP; the API turns them into
`{"error": {"code": ..., "message": ...}}` with `error_body()`; sockets use the same body.
"""

from __future__ import annotations


class QMSError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, details: dict | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}

    def body(self) -> dict:
        return error_body(self.code, self.message, self.details)


class BadRequest(QMSError):
    """The request is malformed."""
    status, code = 400, "bad_request"


class ValidationFailed(QMSError):
    """A field has an invalid value."""
    status, code = 422, "validation_failed"


class Unauthorized(QMSError):
    """Sign in first."""
    status, code = 401, "unauthorized"


class Forbidden(QMSError):
    """You are not allowed to do this."""
    status, code = 403, "forbidden"


class NotFound(QMSError):
    """Not found."""
    status, code = 404, "not_found"


class Conflict(QMSError):
    """The request conflicts with the current state."""
    status, code = 409, "conflict"


class IllegalMove(Conflict):
    """This action is not allowed in the ticket's or counter's current state."""
    code = "illegal_move"


class TooManyRequests(QMSError):
    """Too many requests; slow down."""
    status, code = 429, "rate_limited"


class IdempotencyMismatch(QMSError):
    """This Idempotency-Key was already used for a different request."""
    status, code = 422, "idempotency_key_reused"


class PayloadTooLarge(QMSError):
    """The request body is too large."""
    status, code = 413, "payload_too_large"


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    err = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}
