"""Stand-in for ``label_studio_tools.core.label_config``."""

from labelloop.compat.legacy_config import parse_config

__all__ = ["parse_config"]
