"""Stand-in for ``label_studio_ml.response`` (label-studio-ml-backend 2.x)."""

from labelloop.compat.response import ModelResponse

__all__ = ["ModelResponse"]
