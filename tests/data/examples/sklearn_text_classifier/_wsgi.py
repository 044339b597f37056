"""Serve the model: python _wsgi.py [-p PORT] [--host HOST] [--with KEY=VALUE ...]
[-d] [--log-level LEVEL] [--check]; or gunicorn _wsgi:app. The shape of the
label-studio-ml-backend examples' _wsgi.py."""

import argparse
import json
import logging
import logging.config
import os

logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[%(asctime)s] %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "level": os.getenv("LOG_LEVEL"), "stream": "ext://sys.stdout"}},
    "root": {"level": os.getenv("LOG_LEVEL"), "handlers": ["console"]},
})

from label_studio_ml.api import init_app  # noqa: E402
from model import SklearnTextClassifier  # noqa: E402

CONFIG_FILE = os.path.join(os.path.dirname(__file__), "config.json")


def config_kwargs(path=CONFIG_FILE):
    """Constructor arguments kept in config.json beside this file."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        kwargs = json.load(f)
    if not isinstance(kwargs, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return kwargs


def typed(value):
    """--with values: whole numbers, booleans and decimals typed, the rest text."""
    if value.isdigit():
        return int(value)
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return float(value)
    except ValueError:
        return value


def parse_args():
    parser = argparse.ArgumentParser(description="SklearnTextClassifier for Label Studio")
    parser.add_argument("-p", "--port", type=int, default=9090)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--kwargs", "--with", dest="kwargs", metavar="KEY=VALUE", nargs="+",
                        type=lambda pair: pair.split("=", 1), default=[])
    parser.add_argument("-d", "--debug", action="store_true")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--model-dir", default=os.path.dirname(__file__))
    parser.add_argument("--check", action="store_true",
                        help="build the model once before serving")
    parser.add_argument("--basic-auth-user", default=os.getenv("ML_SERVER_BASIC_AUTH_USER"))
    parser.add_argument("--basic-auth-pass", default=os.getenv("ML_SERVER_BASIC_AUTH_PASS"))
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.log_level:
        logging.root.setLevel(args.log_level)
    kwargs = config_kwargs()
    kwargs.update({key: typed(value) for key, value in args.kwargs})
    if args.check:
        print("Checking that SklearnTextClassifier can be built...")
        SklearnTextClassifier(**kwargs)
    app = init_app(model_class=SklearnTextClassifier, basic_auth_user=args.basic_auth_user,
                   basic_auth_pass=args.basic_auth_pass)
    app.run(host=args.host, port=args.port, debug=args.debug)
else:
    # A WSGI server (gunicorn _wsgi:app) or a test imports this module.
    app = init_app(model_class=SklearnTextClassifier)
