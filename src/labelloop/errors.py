"""One exception tree for the whole package; every error knows its HTTP status.

The server renders any :class:`LabelloopError` as ``{"error": code, "message": ..., "field": ...}``
with :attr:`LabelloopError.status`; the CLI prints the message and exits non-zero.

>>> err = InvalidField("tasks[0].data", "is missing the key 'text'")
>>> err.status, err.to_dict()["field"]
(422, 'tasks[0].data')
"""

from __future__ import annotations

from typing import Any


class LabelloopError(Exception):
    """Base of every error labelloop raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequest(LabelloopError):
    status = 400
    code = "bad_request"


class InvalidField(BadRequest):
    """A request field has the wrong type or value; ``field`` names it."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)


class InvalidProjectId(InvalidField):
    code = "invalid_project"

    def __init__(self, value: object, field: str = "project") -> None:
        super().__init__(
            field,
            f"{value!r} is not a valid project id (words of letters, digits and '_' "
            "joined by single '.' or '-', at most 128 characters)",
        )


class InvalidLabelConfig(InvalidField):
    code = "invalid_label_config"

    def __init__(self, problem: str, field: str = "label_config") -> None:
        super().__init__(field, problem)


class PayloadTooLarge(LabelloopError):
    status = 413
    code = "payload_too_large"


class Unauthorized(LabelloopError):
    status = 401
    code = "unauthorized"


class Forbidden(LabelloopError):
    """Authenticated (or needing no auth), but not allowed: e.g. a cross-site form post."""

    status = 403
    code = "forbidden"


class NotFound(LabelloopError):
    status = 404
    code = "not_found"


class ModelError(LabelloopError):
    """The user's model raised or returned something unusable."""

    status = 500
    code = "model_error"


class ScriptError(LabelloopError):
    """A model script cannot be loaded (no model class, several, or an import error)."""

    status = 500
    code = "script_error"


class TrainingError(LabelloopError):
    status = 500
    code = "training_error"


class StoreUnavailable(LabelloopError):
    """The job store (e.g. Redis) does not answer; nothing was acknowledged."""

    status = 503
    code = "store_unavailable"


class LabelStudioError(LabelloopError):
    """Label Studio could not be reached or refused a request we made to it;
    ``answered`` is its HTTP status when it answered (None: unreachable or timed out)."""

    status = 502
    code = "label_studio_error"

    def __init__(self, message: str, *, field: str | None = None,
                 answered: int | None = None) -> None:
        super().__init__(message, field=field)
        self.answered = answered

    @property
    def refused(self) -> bool:
        """Label Studio answered and said no (a 4xx): asking again will not help."""
        return self.answered is not None and 400 <= self.answered < 500
