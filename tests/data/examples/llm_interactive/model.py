"""Prompted pre-annotation written for label-studio-ml-backend 2.x: an OpenAI-compatible
chat model (OpenAI, Azure OpenAI or Ollama) answers a prompt about each task; its answer
becomes a choice and/or a text, and the prompt is kept beside them.

The prompt is what the annotator typed in the TextArea whose name starts with
PROMPT_PREFIX, else the last one saved by fit(), else DEFAULT_PROMPT.
"""

import difflib
import json
import logging
import os
import random
import time
from io import BytesIO
from typing import Any

import pytesseract
import requests
from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse
from label_studio_sdk.label_interface.control_tags import ControlTag, ObjectTag
from label_studio_sdk.label_interface.object_tags import ImageTag, ParagraphsTag
from label_studio_sdk.label_interface.objects import PredictionValue
from openai import AzureOpenAI, OpenAI
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

ATTEMPTS = 6  # a rate-limited or flaky endpoint gets a few more tries, 5-10 s apart


def with_retries(call, *args, **kwargs):
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call(*args, **kwargs)
        except Exception:
            if attempt == ATTEMPTS:
                raise
            logger.warning("LLM call failed (attempt %d of %d)", attempt, ATTEMPTS,
                           exc_info=True)
            time.sleep(random.uniform(5, 10))


def chat_client(params: dict[str, Any]) -> tuple[Any, str | None]:
    """(client, default model) for the provider the params or the environment name."""
    cls = OpenAIInteractive
    provider = params.get("provider", cls.OPENAI_PROVIDER)
    key = params.get("api_key", cls.OPENAI_KEY)
    if provider == "openai":
        return OpenAI(api_key=key), "gpt-3.5-turbo"
    if provider == "azure":
        endpoint = params.get("resource_endpoint", cls.AZURE_RESOURCE_ENDPOINT).rstrip("/")
        return AzureOpenAI(api_key=key, azure_endpoint=endpoint,
                           api_version=params.get("api_version", cls.AZURE_API_VERSION),
                           azure_deployment=params.get("deployment_name",
                                                       cls.AZURE_DEPLOYMENT_NAME)
                           ), "gpt-35-turbo"
    if provider == "ollama":
        return OpenAI(base_url=params.get("base_url", cls.OLLAMA_ENDPOINT),
                      api_key="ollama"), None
    raise ValueError(f"unknown LLM provider {provider!r}")


def ask(prompt: str, params: dict[str, Any]) -> list[str]:
    """The model's answers (NUM_RESPONSES of them) to one user message."""
    cls = OpenAIInteractive
    client, default_model = chat_client(params)
    request = {"messages": [{"role": "user", "content": prompt}],
               "model": params.get("model", cls.OPENAI_MODEL) or default_model,
               "n": params.get("num_responses", cls.NUM_RESPONSES),
               "temperature": params.get("temperature", cls.TEMPERATURE)}
    logger.debug("LLM request: %s", request)
    completion = with_retries(client.chat.completions.create, **request)
    return [choice.message.content for choice in completion.choices]


def closest_labels(answer: str, labels: list[str]) -> list[str]:
    """For each line of the answer, the label most like it."""
    def likeness(line: str, label: str) -> float:
        return difflib.SequenceMatcher(None, line, label).ratio()

    return [max(labels, key=lambda label, line=line: likeness(line, label))
            for line in answer.splitlines()]


class OpenAIInteractive(LabelStudioMLBase):
    OPENAI_PROVIDER = os.getenv("OPENAI_PROVIDER", "openai")
    OPENAI_KEY = os.getenv("OPENAI_API_KEY")
    OPENAI_MODEL = os.getenv("OPENAI_MODEL")
    PROMPT_PREFIX = os.getenv("PROMPT_PREFIX", "prompt")
    USE_INTERNAL_PROMPT_TEMPLATE = bool(int(os.getenv("USE_INTERNAL_PROMPT_TEMPLATE", 1)))
    DEFAULT_PROMPT = os.getenv("DEFAULT_PROMPT")
    PROMPT_TEMPLATE = os.getenv(
        "PROMPT_TEMPLATE", '**Source Text**:\n\n"{text}"\n\n**Task Directive**:\n\n"{prompt}"')
    NUM_RESPONSES = int(os.getenv("NUM_RESPONSES", 1))
    TEMPERATURE = float(os.getenv("TEMPERATURE", 0.7))
    AZURE_RESOURCE_ENDPOINT = os.getenv("AZURE_RESOURCE_ENDPOINT", "")
    AZURE_DEPLOYMENT_NAME = os.getenv("AZURE_DEPLOYMENT_NAME")
    AZURE_API_VERSION = os.getenv("AZURE_API_VERSION", "2023-05-15")
    OLLAMA_ENDPOINT = os.getenv("OLLAMA_ENDPOINT")
    PROMPT_TAG = "TextArea"
    SUPPORTED_INPUTS = ("Image", "Text", "HyperText", "Paragraphs")

    def setup(self):
        # DEFAULT_PROMPT may name a file holding the prompt.
        if self.DEFAULT_PROMPT and os.path.isfile(self.DEFAULT_PROMPT):
            with open(self.DEFAULT_PROMPT) as f:
                self.DEFAULT_PROMPT = f.read()

    # -- the label config ------------------------------------------------------------------
    def prompt_tags(self) -> tuple[ControlTag, ObjectTag]:
        li = self.label_interface
        control, obj, _ = li.get_first_tag_occurence(
            self.PROMPT_TAG, self.SUPPORTED_INPUTS,
            name_filter=lambda name: name.startswith(self.PROMPT_PREFIX))
        return li.get_control(control), li.get_object(obj)

    def answer_tag(self, kind: str, prompt_tag: ControlTag,
                   object_tag: ObjectTag) -> ControlTag | None:
        """The ``kind`` control (Choices, TextArea) that annotates the prompt's object."""
        li = self.label_interface
        try:
            name, _, _ = li.get_first_tag_occurence(
                kind, self.SUPPORTED_INPUTS,
                name_filter=lambda name: name != prompt_tag.name,
                to_name_filter=lambda name: name == object_tag.name)
        except Exception:
            return None
        return li.get_control(name)

    # -- prompts ---------------------------------------------------------------------------
    def prompts(self, context: dict[str, Any] | None, prompt_tag: ControlTag) -> list[str]:
        if context:
            for region in context.get("result") or []:
                if region.get("from_name") == prompt_tag.name:
                    return region["value"]["text"]
            return []
        saved = self.get(prompt_tag.name)
        if saved:
            return [saved]
        if self.DEFAULT_PROMPT:
            if self.USE_INTERNAL_PROMPT_TEMPLATE:
                logger.error("DEFAULT_PROMPT needs USE_INTERNAL_PROMPT_TEMPLATE=0: no prompt")
                return []
            return [self.DEFAULT_PROMPT]
        return []

    def full_prompt(self, text: Any, prompt: str, data: dict[str, Any],
                    labels: list[str] | None) -> str:
        if self.USE_INTERNAL_PROMPT_TEMPLATE:
            return self.PROMPT_TEMPLATE.format(text=text, prompt=prompt, labels=labels)
        return prompt.format(labels=labels, **data)

    # -- task data -------------------------------------------------------------------------
    def read_text(self, data: dict[str, Any], object_tag: ObjectTag) -> Any:
        value = data.get(object_tag.value_name)
        if value is None:
            return None
        if isinstance(object_tag, ImageTag):
            image = Image.open(BytesIO(requests.get(value, timeout=60).content))
            return pytesseract.image_to_string(ImageOps.exif_transpose(image))
        if isinstance(object_tag, ParagraphsTag):
            return json.dumps(value)
        return value

    # -- the API ---------------------------------------------------------------------------
    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs) -> ModelResponse:
        prompt_tag, object_tag = self.prompt_tags()
        prompts = self.prompts(context, prompt_tag)
        if not prompts:
            return ModelResponse(predictions=[])
        prompt = "\n".join(prompts)
        choices = self.answer_tag("Choices", prompt_tag, object_tag)
        textarea = self.answer_tag("TextArea", prompt_tag, object_tag)
        if choices is None and textarea is None:
            raise ValueError("the label config has no <Choices> or <TextArea> to answer in")
        labels = choices.labels if choices is not None else None
        predictions = []
        for task in tasks:
            data = self.preload_task_data(task, task["data"])
            text = self.read_text(data, object_tag)
            answers = ask(self.full_prompt(text, prompt, data, labels), self.extra_params)
            regions = []
            if choices is not None and answers:
                regions.append(choices.label(closest_labels(answers[0], labels)))
            if textarea is not None:
                regions.append(textarea.label(text=answers))
            regions.append(prompt_tag.label(text=prompts))
            predictions.append(PredictionValue(result=regions, score=0.1,
                                               model_version=str(self.model_version)))
        return ModelResponse(predictions=predictions)

    def fit(self, event, data, **kwargs):
        """An annotation with a new prompt: keep it for the next predictions."""
        if event not in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            return
        prompt_tag, _ = self.prompt_tags()
        prompts = self.prompts(data["annotation"], prompt_tag)
        if not prompts:
            return
        prompt = "\n".join(prompts)
        if prompt == (self.get(prompt_tag.name) or ""):
            return
        self.set(prompt_tag.name, prompt)
        self.bump_model_version()
