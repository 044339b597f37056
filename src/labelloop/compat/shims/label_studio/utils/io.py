"""Stand-in for ``label_studio.utils.io`` (Label Studio 0.8/0.9)."""

from labelloop.compat.local_files import get_cache_dir, get_data_dir
from labelloop.compat.task_helpers import json_load

__all__ = ["get_cache_dir", "get_data_dir", "json_load"]
