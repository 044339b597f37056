"""Stand-in for ``label_studio.utils.misc`` (Label Studio 0.8/0.9)."""

from labelloop.compat.legacy_config import parse_config

__all__ = ["parse_config"]
