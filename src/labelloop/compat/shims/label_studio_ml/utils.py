"""Stand-in for ``label_studio_ml.utils`` (label-studio-ml 1.0.x and 2.x)."""

from labelloop.compat.local_files import get_env, get_local_path
from labelloop.compat.task_helpers import (
    DATA_UNDEFINED_NAME,
    InMemoryLRUDictCache,
    compare_nested_structures,
    get_choice,
    get_first_tag_keys,
    get_image_local_path,
    get_image_size,
    get_single_tag_keys,
    is_preload_needed,
    is_skipped,
    is_valid_url,
    match_labels,
)

__all__ = ["DATA_UNDEFINED_NAME", "InMemoryLRUDictCache", "compare_nested_structures",
           "get_choice", "get_env", "get_first_tag_keys", "get_image_local_path",
           "get_image_size", "get_local_path", "get_single_tag_keys", "is_preload_needed",
           "is_skipped", "is_valid_url", "match_labels"]
