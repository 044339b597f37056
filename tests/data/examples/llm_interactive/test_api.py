"""The backend's own test, run with pytest in this folder (the shape of the
label-studio-ml-backend examples' test_api.py). The OpenAI client's completion call is
replaced by a function that checks the request and answers "tech"."""

import json
import unittest.mock as mock

import pytest
from model import OpenAIInteractive

PROMPT = """Put the text in one or more of the categories, one category a line.
Text: {text}
Categories: {labels}"""


class Message:
    def __init__(self, content):
        self.content = content


class Choice:
    def __init__(self, message):
        self.message = message


class Completion:
    def __init__(self, choices):
        self.choices = choices


@pytest.fixture
def client():
    from _wsgi import init_app

    app = init_app(model_class=OpenAIInteractive)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client


@pytest.fixture
def default_prompt():
    with mock.patch.object(OpenAIInteractive, "DEFAULT_PROMPT", new=PROMPT):
        yield


@pytest.fixture
def own_prompt_template():
    with mock.patch.object(OpenAIInteractive, "USE_INTERNAL_PROMPT_TEMPLATE", new=False):
        yield


def test_predict(client, default_prompt, own_prompt_template):
    request = {
        "tasks": [{"data": {"text": "A new chip makes phones twice as fast."}}],
        "label_config": (
            '<View><Text name="text" value="$text"/>'
            '<TextArea name="prompt" toName="text" required="true"/>'
            '<Choices name="topic" toName="text" choice="single">'
            '<Choice value="sports"/><Choice value="politics"/><Choice value="technology"/>'
            "</Choices></View>"),
    }
    expected = [{"result": [
        {"from_name": "topic", "to_name": "text", "type": "choices",
         "value": {"choices": ["technology"]}},
        {"from_name": "prompt", "to_name": "text", "type": "textarea",
         "value": {"text": [PROMPT]}},
    ]}]

    def create(**kwargs):
        assert kwargs["messages"][0]["content"] == (
            "Put the text in one or more of the categories, one category a line.\n"
            "Text: A new chip makes phones twice as fast.\n"
            "Categories: ['sports', 'politics', 'technology']")
        assert kwargs["model"] == "gpt-3.5-turbo"
        assert kwargs["n"] == 1
        assert kwargs["temperature"] == 0.7
        return Completion(choices=[Choice(message=Message(content="tech"))])

    with mock.patch("openai.resources.chat.completions.Completions.create",
                    side_effect=create) as completions:
        response = client.post("/predict", data=json.dumps(request),
                               content_type="application/json")
        completions.assert_called_once()
    assert response.status_code == 200
    results = json.loads(response.data)["results"]
    assert len(results) == len(expected)
    for got, want in zip(results[0]["result"], expected[0]["result"], strict=True):
        for key in ("from_name", "to_name", "type", "value"):
            assert got[key] == want[key]
