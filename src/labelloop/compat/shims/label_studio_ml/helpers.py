"""Stand-in for ``label_studio_ml.helpers`` (label-studio-ml 1.0.x)."""

from labelloop.compat.base_ml import LabelStudioMLBase
from labelloop.compat.helper_bases import helper_classes

LabelStudioMLBaseHelper, LabelStudioMLChoices = helper_classes(LabelStudioMLBase)
__all__ = ["LabelStudioMLBaseHelper", "LabelStudioMLChoices"]
