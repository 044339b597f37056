"""The backend's own test, run with pytest in this folder (the shape of the
label-studio-ml-backend examples' test_api.py)."""

import json

import pytest
from model import SklearnTextClassifier

LABEL_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Header value="How does the text feel?"/>
  <Choices name="sentiment" toName="text" choice="single" showInLine="true">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>
"""


@pytest.fixture
def client():
    from _wsgi import init_app

    app = init_app(model_class=SklearnTextClassifier)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client


def test_predict(client):
    body = {"tasks": [{"data": {"text": "That is positive!"}}], "label_config": LABEL_CONFIG}
    response = client.post("/predict", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    answer = json.loads(response.data)
    assert answer["results"][0]["model_version"] == "SklearnTextClassifier-v0.0.1"
    assert answer["results"][0]["result"][0]["value"]["choices"][0] == "Positive"
