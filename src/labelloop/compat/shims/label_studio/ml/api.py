"""Stand-in for ``label_studio.ml.api``: labelloop serves the model itself."""

from labelloop.compat.unsupported import module_getattr

__getattr__ = module_getattr("label_studio.ml.api", "Label Studio 0.8/0.9")
