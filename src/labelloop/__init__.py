"""labelloop: a model-in-the-loop ML backend for Label Studio.

Model authors import from :mod:`labelloop.sdk`::

    from labelloop.sdk import LabelStudioModel, choices_region, prediction
"""

__version__ = "0.1.0"
