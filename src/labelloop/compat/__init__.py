"""Model scripts written for older ``LabelStudioMLBase`` APIs, served unchanged.

Three generations are recognised when a script is loaded (see :mod:`labelloop.compat.loader`):

1. Label Studio 0.8/0.9: ``from label_studio.ml import LabelStudioMLBase``;
2. label-studio-ml 1.0.x: ``from label_studio_ml.model import LabelStudioMLBase`` with
   ``fit(tasks, workdir=None, **kwargs)`` returning ``train_output``;
3. label-studio-ml-backend 2.x: the same import, with ``setup()``, ``fit(event, data)``,
   ``get/set`` state and ``MODEL_DIR``.

When the modules such a script imports are not installed, labelloop supplies stand-ins
(:mod:`labelloop.compat.standins`); a real installation always wins. Whatever the
generation, the backend sees a :class:`labelloop.sdk.LabelStudioModel`.
"""
