"""Stand-in for ``label_studio_tools.core.utils.params``."""

from labelloop.compat.local_files import (
    bool_from_request,
    cast_bool_from_str,
    get_bool_env,
    get_env,
)

__all__ = ["bool_from_request", "cast_bool_from_str", "get_bool_env", "get_env"]
