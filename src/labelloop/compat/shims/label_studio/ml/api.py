"""Stand-in for ``label_studio.ml.api``: ``init_app`` gives an app that labelloop serves;
the rest of the old server (``_server``, ``MODEL_CLASS``) is not provided."""

from typing import Any

from labelloop.compat.unsupported import module_getattr


def init_app(model_class: type, **kwargs: Any) -> Any:
    """Label Studio 0.9's ``init_app``: see :func:`labelloop.server.legacy_app.init_app`."""
    # Imported here: compat sits below the server layer and must not import it up front.
    from labelloop.server.legacy_app import init_app as build

    return build(model_class=model_class, **kwargs)


__getattr__ = module_getattr("label_studio.ml.api", "Label Studio 0.8/0.9")
