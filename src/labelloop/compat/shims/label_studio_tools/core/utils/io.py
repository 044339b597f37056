"""Stand-in for ``label_studio_tools.core.utils.io``."""

from labelloop.compat.local_files import get_cache_dir, get_data_dir, get_local_path

__all__ = ["get_cache_dir", "get_data_dir", "get_local_path"]
