"""The backend's own tests, run with pytest in this folder (the shape of the
label-studio-ml-backend tesseract example's test_model.py): the image download is
answered by `responses` with a picture from test_images/."""

import os

import pytest
import responses
from tesseract import BBOXOCR

IMAGE_URL = "http://pictures.ocr-backend.test/page.jpeg"
LABEL_CONFIG = (
    '<View>\n  <Image name="image" value="$image" zoom="true" zoomControl="false"\n'
    '         rotateControl="true" width="100%" height="100%"\n'
    '         maxHeight="auto" maxWidth="auto"/>\n'
    '  <RectangleLabels name="bbox" toName="image" strokeWidth="1" smart="true">\n'
    '    <Label value="Label1" background="green"/>\n'
    '    <Label value="Label2" background="blue"/>\n'
    '    <Label value="Label3" background="red"/>\n'
    '  </RectangleLabels>\n'
    '  <TextArea name="transcription" toName="image" editable="true" perRegion="true"\n'
    '            required="false" maxSubmissions="1" rows="5"\n'
    '            placeholder="Recognized Text" displayMode="region-list"/>\n'
    '</View>')
# Boxes in percent of the 1080x1349 page, where test_images/ has one word each.
FIRST = {"id": "r-kenapa", "box": (2.5893958076448826, 15.59725018943566,
                                   44.38964241676942, 12.438313442208186)}
SECOND = {"id": "r-harus", "box": (3.082614056720099, 30.997066832169608,
                                   37.237977805178794, 11.747296028752174)}
THIRD = {"id": "r-punya", "box": (2.7127003699136867, 45.113565421342386,
                                  37.60789149198521, 12.142163122155608)}


def region(where, kind, value):
    x, y, width, height = where["box"]
    return {"original_width": 1080, "original_height": 1349, "image_rotation": 0,
            "value": {"x": x, "y": y, "width": width, "height": height, "rotation": 0,
                      **value},
            "id": where["id"], "from_name": "bbox" if kind == "rectanglelabels"
            else "transcription", "to_name": "image", "type": kind, "origin": "manual"}


def box(where, label):
    return region(where, "rectanglelabels", {"rectanglelabels": [label]})


def text(where, words):
    return region(where, "textarea", {"text": [words]})


def predict_body(context, drafted=()):
    """A /predict body as Label Studio sends it while an annotator draws boxes."""
    drafts = [{"id": 31, "user": "annotator@example.test", "result": list(drafted),
               "lead_time": 12.5, "was_postponed": False, "task": 418,
               "created_at": "2025-04-01T09:00:00.000000Z"}] if drafted else []
    return {
        "tasks": [{"id": 418, "annotations": [], "drafts": drafts, "predictions": [],
                   "data": {"image": IMAGE_URL}, "meta": {}, "project": 9, "inner_id": 4,
                   "file_upload": "1c2d-pages.json", "total_annotations": 0,
                   "cancelled_annotations": 0, "total_predictions": 0,
                   "created_at": "2025-04-01T08:00:00.000000Z",
                   "updated_at": "2025-04-01T08:00:00.000000Z"}],
        "project": "9.1743494400",
        "label_config": LABEL_CONFIG,
        "params": {"login": None, "password": None, "context": {"result": list(context)}},
    }


@pytest.fixture
def client():
    from _wsgi import init_app

    app = init_app(model_class=BBOXOCR)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client


@pytest.fixture
def model_dir_env(tmp_path, monkeypatch):
    model_dir = tmp_path / "model_dir"
    model_dir.mkdir()
    monkeypatch.setattr(BBOXOCR, "MODEL_DIR", str(model_dir))
    return model_dir


def read_test_image(file_name):
    with open(os.path.join(os.path.dirname(__file__), "test_images", file_name), "rb") as f:
        return f.read()


@responses.activate
def test_basic_interactions(client, model_dir_env):
    responses.add(responses.GET, IMAGE_URL, body=read_test_image("image.jpeg"), status=200)

    response = client.post("/predict", json=predict_body([box(FIRST, "Label1")]))
    assert response.status_code == 200
    r = response.json
    assert len(r["results"][0]["result"]) == 2
    assert r["results"][0]["result"][0]["value"]["text"][0] == "KENAPA"
    assert r["results"][0]["result"][1]["value"]["rectanglelabels"][0] == "Label1"

    done = [text(FIRST, "KENAPA"), box(FIRST, "Label1")]
    response = client.post("/predict", json=predict_body(
        [*done, box(SECOND, "Label1")], drafted=done))
    assert response.status_code == 200
    r = response.json
    assert len(r["results"][0]["result"]) == 2
    assert r["results"][0]["result"][0]["value"]["text"][0] == "HARUS"
    assert r["results"][0]["result"][1]["value"]["rectanglelabels"][0] == "Label1"

    done += [text(SECOND, "HARUS"), box(SECOND, "Label1")]
    response = client.post("/predict", json=predict_body([box(THIRD, "Label2")], drafted=done))
    assert response.status_code == 200
    r = response.json
    assert len(r["results"][0]["result"]) == 2
    assert r["results"][0]["result"][0]["value"]["text"][0] == "PUNYA"
    assert r["results"][0]["result"][1]["value"]["rectanglelabels"][0] == "Label2"


@responses.activate
def test_image_with_non_default_orientation(client, model_dir_env):
    responses.add(responses.GET, IMAGE_URL,
                  body=read_test_image("image_has_exif_orientation.jpeg"), status=200)

    response = client.post("/predict", json=predict_body([box(FIRST, "Label1")]))
    assert response.status_code == 200
    r = response.json
    assert len(r["results"][0]["result"]) == 2
    assert r["results"][0]["result"][0]["value"]["text"][0] == "KENAPA"
    assert r["results"][0]["result"][1]["value"]["rectanglelabels"][0] == "Label1"
