"""What model authors import.

>>> from labelloop.sdk import LabelStudioModel, parse_label_config, choices_region, prediction
"""

from labelloop.sdk.annotations import first_choice, usable_annotations
from labelloop.sdk.context import KeyValueState, ProjectContext
from labelloop.sdk.evaluation import Evaluation, evaluate
from labelloop.sdk.label_config import ControlTag, LabelConfig, ObjectTag, parse_label_config
from labelloop.sdk.model import LabelStudioModel, Task, TrainOutput
from labelloop.sdk.predictions import (
    Prediction,
    Region,
    choices_region,
    prediction,
    rectangle_region,
    span_region,
    textarea_region,
)

__all__ = [
    "ControlTag", "Evaluation", "KeyValueState", "LabelConfig", "LabelStudioModel",
    "ObjectTag", "Prediction", "ProjectContext", "Region", "Task", "TrainOutput",
    "choices_region", "evaluate", "first_choice", "parse_label_config", "prediction",
    "rectangle_region", "span_region", "textarea_region", "usable_annotations",
]  # fmt: skip
