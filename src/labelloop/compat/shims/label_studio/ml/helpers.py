"""Stand-in for ``label_studio.ml.helpers`` (Label Studio 0.8/0.9)."""

from labelloop.compat.base_gen1 import LabelStudioMLBase
from labelloop.compat.helper_bases import helper_classes

LabelStudioMLBaseHelper, LabelStudioMLChoices = helper_classes(LabelStudioMLBase)
__all__ = ["LabelStudioMLBaseHelper", "LabelStudioMLChoices"]
