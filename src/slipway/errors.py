"""Every failure a user can see, as one typed tree with stable codes.

The codes are the MLflow protocol's (so an mlflow client understands our server) plus
a few of our own. Each class fixes its code and HTTP status; the message says what was
wrong and what to do::

    SlipwayError                      INTERNAL_ERROR            500
    ├── InvalidParameterValue         INVALID_PARAMETER_VALUE   400
    │   └── InvalidFilter             INVALID_PARAMETER_VALUE   400
    ├── BadRequest                    BAD_REQUEST               400
    ├── RequestTooLarge               REQUEST_LIMIT_EXCEEDED    413
    ├── ResourceDoesNotExist          RESOURCE_DOES_NOT_EXIST   404
    ├── ResourceAlreadyExists         RESOURCE_ALREADY_EXISTS   400
    ├── InvalidState                  INVALID_STATE             400
    ├── PermissionDenied              PERMISSION_DENIED         403
    ├── MissingDependency             MISSING_DEPENDENCY        400
    ├── UnsafeModelFormat             UNSAFE_MODEL_FORMAT       400
    ├── SchemaEnforcementError        SCHEMA_ENFORCEMENT_FAILED 400
    ├── GateFailed                    GATE_FAILED               400
    ├── FlushError                    FLUSH_FAILED              500
    └── ServerUnavailable             TEMPORARILY_UNAVAILABLE   503
"""

from __future__ import annotations

from typing import Any, ClassVar


class SlipwayError(Exception):
    """Base of every user-facing slipway failure."""

    error_code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The MLflow protocol's error body."""
        return {"error_code": self.error_code, "message": self.message}

    @classmethod
    def from_error_code(cls, error_code: str, message: str) -> SlipwayError:
        """Rebuild the typed error a server sent (used by the REST transport)."""
        for klass in _all_subclasses(SlipwayError):
            if klass.error_code == error_code and klass is not InvalidFilter:
                return klass(message)
        err = SlipwayError(message)
        err.error_code = error_code  # type: ignore[misc]
        return err


class InvalidParameterValue(SlipwayError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidFilter(InvalidParameterValue):
    """A search filter or order_by that does not parse; carries the error position."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" (at position {position})" if position is not None else ""
        super().__init__(f"{message}{where}", position=position)
        self.position = position


class BadRequest(SlipwayError):
    error_code = "BAD_REQUEST"
    http_status = 400


class RequestTooLarge(SlipwayError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class ResourceDoesNotExist(SlipwayError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class ResourceAlreadyExists(SlipwayError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class InvalidState(SlipwayError):
    error_code = "INVALID_STATE"
    http_status = 400


class PermissionDenied(SlipwayError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class MissingDependency(SlipwayError):
    """An optional package is needed; the message names the extra to install."""

    error_code = "MISSING_DEPENDENCY"
    http_status = 400


class UnsafeModelFormat(SlipwayError):
    """Loading would unpickle untrusted bytes and the user did not opt in."""

    error_code = "UNSAFE_MODEL_FORMAT"
    http_status = 400


class SchemaEnforcementError(SlipwayError):
    """Model input does not match the signature; lists every problem found."""

    error_code = "SCHEMA_ENFORCEMENT_FAILED"
    http_status = 400

    def __init__(self, problems: list[str]) -> None:
        text = "Model input does not match the model signature:\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        super().__init__(text, problems=problems)
        self.problems = problems


class GateFailed(SlipwayError):
    """A promotion's quality gate did not pass; nothing was changed."""

    error_code = "GATE_FAILED"
    http_status = 400


class FlushError(SlipwayError):
    """Buffered metrics could not be written; they were not acknowledged as stored."""

    error_code = "FLUSH_FAILED"
    http_status = 500


class ServerUnavailable(SlipwayError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


def _all_subclasses(klass: type) -> list[type]:
    out = []
    for sub in klass.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


__all__ = [
    "BadRequest",
    "FlushError",
    "GateFailed",
    "InvalidFilter",
    "InvalidParameterValue",
    "InvalidState",
    "MissingDependency",
    "PermissionDenied",
    "RequestTooLarge",
    "ResourceAlreadyExists",
    "ResourceDoesNotExist",
    "SchemaEnforcementError",
    "ServerUnavailable",
    "SlipwayError",
    "UnsafeModelFormat",
]
