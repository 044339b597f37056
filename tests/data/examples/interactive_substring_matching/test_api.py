"""The backend's own test, run with pytest in this folder (the shape of the
label-studio-ml-backend examples' test_api.py): the body Label Studio sends when an
annotator has just labeled "Apple" as ORG."""

import json

import pytest
from model import InteractiveSubstringMatching

LABEL_CONFIG = """<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
    <Label value="LOC" background="orange"/>
    <Label value="MISC" background="green"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""
TEXT = ("Apple's new phone went on sale in Cupertino today; apple fans queued for hours "
        "at every Apple store.")
REQUEST = {
    "tasks": [{
        "id": 5071, "annotations": [], "drafts": [], "predictions": [],
        "data": {"text": TEXT}, "meta": {}, "created_at": "2025-03-02T10:15:00.000000Z",
        "updated_at": "2025-03-02T10:15:00.000000Z", "inner_id": 7, "total_annotations": 0,
        "cancelled_annotations": 0, "total_predictions": 0, "comment_count": 0,
        "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": 12,
        "updated_by": None, "file_upload": "6b1f-news.json", "comment_authors": [],
    }],
    "project": "12.1740910500",
    "label_config": LABEL_CONFIG,
    "params": {"login": None, "password": None, "context": {
        "annotation_id": None, "draft_id": 0, "user_id": 3,
        "result": [{"id": "Xq3-tL", "from_name": "label", "to_name": "text", "type": "labels",
                    "origin": "manual",
                    "value": {"start": 0, "end": 5, "text": "Apple", "labels": ["ORG"]}}],
    }},
}
# Region ids are random: only the first region's other fields are compared.
EXPECTED = {"results": [{"model_version": "InteractiveSubstringMatching-v0.0.1",
                         "score": 0.93, "result": [
    {"id": "a1b2", "from_name": "label", "to_name": "text", "type": "labels", "score": 1.0,
     "value": {"start": 0, "end": 5, "text": "Apple", "labels": ["ORG"]}},
    {"id": "c3d4", "from_name": "label", "to_name": "text", "type": "labels", "score": 0.8,
     "value": {"start": 51, "end": 56, "text": "apple", "labels": ["ORG"]}},
    {"id": "e5f6", "from_name": "label", "to_name": "text", "type": "labels", "score": 1.0,
     "value": {"start": 88, "end": 93, "text": "Apple", "labels": ["ORG"]}},
]}]}


@pytest.fixture
def client():
    from _wsgi import init_app

    app = init_app(model_class=InteractiveSubstringMatching)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client


def test_predict(client):
    response = client.post("/predict", data=json.dumps(REQUEST),
                           content_type="application/json")
    assert response.status_code == 200
    answer = json.loads(response.data)
    for key in ("from_name", "to_name", "type", "value"):
        assert answer["results"][0]["result"][0][key] == EXPECTED["results"][0]["result"][0][key]
