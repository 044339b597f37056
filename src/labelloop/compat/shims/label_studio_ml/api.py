"""Stand-in for ``label_studio_ml.api``: labelloop serves the model itself."""

from labelloop.compat.unsupported import module_getattr

__getattr__ = module_getattr("label_studio_ml.api", "label-studio-ml")
