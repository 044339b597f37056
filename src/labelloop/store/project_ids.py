"""Project ids become folder names, so they are validated before any path is built.

Label Studio sends ``"<id>.<created_at>"`` to /setup and /predict and the bare ``id`` in
webhook payloads; state is keyed by the id part, as the reference backend does.

>>> project_key("7.1795555096"), project_key(7)
('7', '7')
>>> is_label_studio_project("7"), is_label_studio_project("default")
(True, False)
>>> project_key("../etc")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
labelloop.errors.InvalidProjectId: project: '../etc' is not a valid project id ...
"""

from __future__ import annotations

import re

from labelloop.errors import InvalidProjectId

# Words of letters, digits and '_' joined by single '.' or '-': no '..', no leading '.'.
PROJECT_PATTERN = r"^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*$"
MAX_PROJECT_LENGTH = 128
_NAME = re.compile(PROJECT_PATTERN)
_LS_UID = re.compile(r"(\d+)\.\d+")


def is_label_studio_project(project: str) -> bool:
    """Whether a project key names a project of Label Studio (its id), rather than a name
    chosen by a script or the CLI: only then is there a Label Studio project to call."""
    return project.isdigit()


def project_key(value: object, field: str = "project") -> str:
    """The folder-safe key for a project uid, an int id, or a user-chosen name."""
    if isinstance(value, bool):
        raise InvalidProjectId(value, field)
    if isinstance(value, int):
        if value < 0:
            raise InvalidProjectId(value, field)
        return str(value)
    if not isinstance(value, str):
        raise InvalidProjectId(value, field)
    uid = _LS_UID.fullmatch(value)
    if uid:
        return uid.group(1)
    if not _NAME.fullmatch(value) or len(value) > MAX_PROJECT_LENGTH:
        raise InvalidProjectId(value, field)
    return value
