"""One exception tree for the whole package; every error knows its HTTP status.

The server renders any :class:`LabelloopError` as ``{"error": code, "message": ..., "field": ...}``
with :attr:`LabelloopError.status`; the CLI prints the message and exits non-zero.

>>> err = InvalidField("tasks[0].data", "is missing the key 'text'")
>>> err.status, err.to_dict()["field"]
(422, 'tasks[0].data')
"""

from __future__ import annotations

import traceback
from pathlib import Path
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
    """The user's model raised or returned something unusable; ``script``: where in the
    user's script it raised (:func:`script_frame`), sent along in the JSON body."""

    status = 500
    code = "model_error"

    def __init__(self, message: str, *, field: str | None = None,
                 script: dict[str, Any] | None = None) -> None:
        super().__init__(message, field=field)
        self.script = script

    @classmethod
    def raised(cls, what: str, exc: BaseException, script_dir: Path | None) -> ModelError:
        """``what`` (e.g. ``"MyModel.predict() raised"``) ``exc``: a message naming the
        exception and the line of the user's script (under ``script_dir``) it came from."""
        where = script_frame(exc, script_dir)
        at = f" ({where['file']}, line {where['line']})" if where.get("file") else ""
        return cls(f"{what} {where['exception']}: {where['message']}{at}",
                   script=where)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        if self.script is not None:
            body["script"] = self.script
        return body


def script_frame(exc: BaseException, script_dir: Path | None) -> dict[str, Any]:
    """``{"file", "line", "exception", "message"}``: the innermost frame of ``exc``'s
    traceback that is in the user's folder (the script, not the library it called into);
    the innermost frame of all when none is."""
    frames = traceback.extract_tb(exc.__traceback__)
    folder = script_dir.resolve() if script_dir is not None else None
    mine = [f for f in frames if folder is not None and _inside(f.filename, folder)]
    frame = (mine or frames)[-1] if frames else None
    where: dict[str, Any] = {"file": None, "line": None, "exception": type(exc).__name__,
                             "message": str(exc)}
    if frame is not None:
        path = Path(frame.filename)
        shown = path.resolve().relative_to(folder) if mine and folder else path
        where.update(file=str(shown), line=frame.lineno)
    return where


def _inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


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
