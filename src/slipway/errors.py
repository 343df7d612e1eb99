"""Every failure a user can see, as one typed tree with stable codes.

The codes are the MLflow protocol's (so an mlflow client understands our server) plus
a few of our own. Each class fixes its code and HTTP status; the message says what was
wrong and what to do. Families also derive from the built-in exception a Python user
would catch (`except ValueError`, `except LookupError`)::

    SlipwayError                      INTERNAL_ERROR            500
    ├── InvalidParameterValue         INVALID_PARAMETER_VALUE   400  (ValueError)
    │   └── InvalidFilter             INVALID_PARAMETER_VALUE   400
    ├── BadRequest                    BAD_REQUEST               400  (ValueError)
    ├── RequestTooLarge               REQUEST_LIMIT_EXCEEDED    413
    ├── ResourceDoesNotExist          RESOURCE_DOES_NOT_EXIST   404  (LookupError)
    ├── EndpointNotFound              ENDPOINT_NOT_FOUND        404
    ├── ResourceAlreadyExists         RESOURCE_ALREADY_EXISTS   400
    ├── InvalidState                  INVALID_STATE             400
    ├── PermissionDenied              PERMISSION_DENIED         403  (PermissionError)
    ├── Unauthenticated               UNAUTHENTICATED           401
    ├── MissingDependency             MISSING_DEPENDENCY        400  (ImportError)
    ├── UnsafeModelFormat             UNSAFE_MODEL_FORMAT       400
    ├── SchemaEnforcementError        SCHEMA_ENFORCEMENT_FAILED 400  (ValueError)
    ├── GateFailed                    GATE_FAILED               400
    ├── FlushError                    FLUSH_FAILED              500
    └── ServerUnavailable             TEMPORARILY_UNAVAILABLE   503
        ├── ServerUnreachable         (a server or database could not be reached at all)
        └── DatabaseLocked            (the database stayed locked through every retry)

A server's error body `{"error_code", "message"}` turns back into the same class on the
client with `SlipwayError.from_error_code`; each code maps to the first class that
declares it (subclasses that only refine a family, like `InvalidFilter`, do not).
"""

from __future__ import annotations

from typing import Any, ClassVar

_CLASS_FOR_CODE: dict[str, type[SlipwayError]] = {}


class SlipwayError(Exception):
    """Base of every user-facing slipway failure."""

    error_code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The first class to declare a code is the one a client rebuilds for it.
        if "error_code" in cls.__dict__:
            _CLASS_FOR_CODE.setdefault(cls.error_code, cls)

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The MLflow protocol's error body."""
        return {"error_code": self.error_code, "message": self.message}

    @classmethod
    def from_error_code(cls, error_code: str, message: str) -> SlipwayError:
        """Rebuild the typed error a server sent (used by the REST transports).

        A code no class declares (a newer server's) becomes a `SlipwayError` subclass made
        for it, so `error_code` still says what the server said.
        """
        klass = _CLASS_FOR_CODE.get(error_code)
        if klass is None:
            klass = type("UnknownServerError", (SlipwayError,), {"error_code": error_code})
        return klass(message)


_CLASS_FOR_CODE[SlipwayError.error_code] = SlipwayError


class InvalidParameterValue(SlipwayError, ValueError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidFilter(InvalidParameterValue):
    """A search filter or order_by that does not parse; carries the error position."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" (at position {position})" if position is not None else ""
        super().__init__(f"{message}{where}", position=position)
        self.position = position


class BadRequest(SlipwayError, ValueError):
    error_code = "BAD_REQUEST"
    http_status = 400


class RequestTooLarge(SlipwayError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class ResourceDoesNotExist(SlipwayError, LookupError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class EndpointNotFound(SlipwayError):
    """The server has no such route: an older server, or a URL that is not slipway's."""

    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 404


class ResourceAlreadyExists(SlipwayError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class InvalidState(SlipwayError):
    """The object exists but is not in a state that allows this (deleted, finished, …)."""

    error_code = "INVALID_STATE"
    http_status = 400


class PermissionDenied(SlipwayError, PermissionError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class Unauthenticated(SlipwayError):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class MissingDependency(SlipwayError, ImportError):
    """An optional package is needed; the message names the extra to install."""

    error_code = "MISSING_DEPENDENCY"
    http_status = 400


class UnsafeModelFormat(SlipwayError):
    """Loading would unpickle untrusted bytes and the user did not opt in."""

    error_code = "UNSAFE_MODEL_FORMAT"
    http_status = 400


class SchemaEnforcementError(SlipwayError, ValueError):
    """Model input does not match the signature; lists every problem found."""

    error_code = "SCHEMA_ENFORCEMENT_FAILED"
    http_status = 400

    def __init__(self, problems: list[str] | str) -> None:
        # Rebuilt from a server's error body, the message is one text already.
        if isinstance(problems, str):
            super().__init__(problems, problems=[problems])
            self.problems = [problems]
            return
        text = "Model input does not match the model signature:\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        super().__init__(text, problems=problems)
        self.problems = problems


class GateFailed(SlipwayError):
    """A promotion's quality gate did not pass; nothing was changed.

    `result` holds every check (a `PromotionResult`) when the gate ran in this process.
    """

    error_code = "GATE_FAILED"
    http_status = 400

    def __init__(self, message: str, result: Any = None, **details: Any) -> None:
        super().__init__(message, result=result, **details)
        self.result = result


class FlushError(SlipwayError):
    """Buffered metrics could not be written; they were not acknowledged as stored."""

    error_code = "FLUSH_FAILED"
    http_status = 500


class ServerUnavailable(SlipwayError):
    """The server or database cannot serve the request now; trying again may work."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class ServerUnreachable(ServerUnavailable):
    """No connection could be made (nothing listening, wrong host, refused)."""


class DatabaseLocked(ServerUnavailable):
    """The metadata database stayed locked by another writer through every retry."""


__all__ = [
    "BadRequest",
    "DatabaseLocked",
    "EndpointNotFound",
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
    "ServerUnreachable",
    "SlipwayError",
    "Unauthenticated",
    "UnsafeModelFormat",
]
