"""Stand-in for ``label_studio.ml`` (Label Studio 0.8/0.9), supplied by labelloop."""

from labelloop.compat.base_gen1 import LabelStudioMLBase
from labelloop.compat.unsupported import module_getattr

__getattr__ = module_getattr("label_studio.ml", "Label Studio 0.8/0.9")
__all__ = ["LabelStudioMLBase"]
