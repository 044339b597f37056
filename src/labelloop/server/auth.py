"""Basic auth on every route but /webhook, which Label Studio's event hooks call without it.

/webhook accepts either the basic-auth credentials (``START_TRAINING`` carries them) or
the shared secret (``?secret=`` or the ``X-Labelloop-Secret`` header) when one is set.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from labelloop.errors import Unauthorized
from labelloop.settings import Settings

WEBHOOK_PATH = "/webhook"
SECRET_HEADER = "x-labelloop-secret"  # noqa: S105 - a header name


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def basic_auth_ok(settings: Settings, authorization: str | None) -> bool:
    if not settings.auth_enabled:
        return True
    if not authorization or not authorization.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, password = decoded.partition(":")
    # Both compared, always, so timing does not tell which one was wrong.
    user_ok = _equal(user, settings.basic_auth_user or "")
    pass_ok = _equal(password, settings.basic_auth_pass or "")
    return user_ok and pass_ok


def check_request(settings: Settings, path: str, authorization: str | None,
                  secret: str | None) -> None:
    """Raise :class:`Unauthorized` unless the request may proceed."""
    if path.rstrip("/") == WEBHOOK_PATH:
        if settings.webhook_secret is None:
            return  # documented: set LABELLOOP_WEBHOOK_SECRET to protect /webhook
        if secret is not None and _equal(secret, settings.webhook_secret):
            return
        if settings.auth_enabled and basic_auth_ok(settings, authorization):
            return
        raise Unauthorized("webhook secret missing or wrong (?secret=... or "
                           "X-Labelloop-Secret header)")
    if not basic_auth_ok(settings, authorization):
        raise Unauthorized("basic auth required")
