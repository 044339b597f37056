"""Stand-in for ``label_studio.ml.utils`` (Label Studio 0.8/0.9): annotations are read
under ``completions``, as that generation named them."""

from labelloop.compat.base_gen1 import LabelStudioMLBase
from labelloop.compat.local_files import get_cache_dir, get_local_path
from labelloop.compat.task_helpers import (
    get_choice_completions as get_choice,
)
from labelloop.compat.task_helpers import (
    get_image_local_path,
    get_image_size,
    get_single_tag_keys,
)
from labelloop.compat.task_helpers import (
    is_skipped_completions as is_skipped,
)

__all__ = ["LabelStudioMLBase", "get_cache_dir", "get_choice", "get_image_local_path",
           "get_image_size", "get_local_path", "get_single_tag_keys", "is_skipped"]
