"""Stand-in for ``label_studio_ml.model``, supplied by labelloop."""

from labelloop.compat.base_ml import LabelStudioMLBase, predict_fn, update_fn
from labelloop.compat.response import ModelResponse
from labelloop.compat.unsupported import module_getattr

__getattr__ = module_getattr("label_studio_ml.model", "label-studio-ml")
__all__ = ["LabelStudioMLBase", "ModelResponse", "predict_fn", "update_fn"]
