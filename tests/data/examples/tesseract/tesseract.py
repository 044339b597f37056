"""Interactive OCR written for label-studio-ml-backend 2.x: the annotator draws a box on
an image, and Tesseract reads the text inside it into the region's transcription."""

import io
import logging
import os
from typing import Any

import pytesseract
from label_studio_ml.model import LabelStudioMLBase
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

# One block of text per box; Simplified Chinese and English.
OCR_CONFIG = "--psm 6 -l chi_sim+eng"
LABEL_STUDIO_HOST = os.getenv("LABEL_STUDIO_HOST")


def s3_image(url: str) -> Image.Image:
    """s3://bucket/key, with the AWS_* credentials of the environment."""
    import boto3  # only S3-hosted images need it

    bucket, _, key = url[len("s3://"):].partition("/")
    s3 = boto3.resource("s3", endpoint_url=os.getenv("AWS_ENDPOINT"),
                        aws_access_key_id=os.getenv("AWS_ACCESS_KEY_ID"),
                        aws_secret_access_key=os.getenv("AWS_SECRET_ACCESS_KEY"),
                        aws_session_token=os.getenv("AWS_SESSION_TOKEN"),
                        config=boto3.session.Config(signature_version="s3v4"), verify=False)
    return Image.open(io.BytesIO(s3.Object(bucket, key).get()["Body"].read()))


def pixels(region: dict[str, Any]) -> tuple[float, float, float, float]:
    """The region's box in pixels of the original image: left, top, right, bottom."""
    width, height = region["original_width"], region["original_height"]
    value = region["value"]
    left, top = value["x"] * width / 100, value["y"] * height / 100
    return (left, top, left + value["width"] * width / 100,
            top + value["height"] * height / 100)


class BBOXOCR(LabelStudioMLBase):
    MODEL_DIR = os.getenv("MODEL_DIR", ".")

    def setup(self):
        self.set("model_version", f"{type(self).__name__}-v0.0.1")

    def load_image(self, url: str, task_id: int | None) -> Image.Image:
        if url.startswith("s3:"):
            image = s3_image(url)
        else:
            cache = os.path.join(self.MODEL_DIR, ".file-cache")
            os.makedirs(cache, exist_ok=True)
            path = self.get_local_path(url, cache_dir=cache, ls_host=LABEL_STUDIO_HOST,
                                       task_id=task_id)
            image = Image.open(path)
        return ImageOps.exif_transpose(image)  # upright, as the annotator saw it

    def predict(self, tasks: list[dict[str, Any]], **kwargs) -> list[dict[str, Any]]:
        from_name, _, key = self.label_interface.get_first_tag_occurence("TextArea", "Image")
        context = kwargs.get("context")
        if not context or not context.get("result"):
            return []
        task = tasks[0]  # interactive: Label Studio asks about the task on screen
        image = self.load_image(task["data"][key], task.get("id"))
        region = context["result"][-1]  # the box just drawn
        box = pixels(region)
        text = pytesseract.image_to_string(image.crop(box), config=OCR_CONFIG).strip()
        width, height = region["original_width"], region["original_height"]
        transcription = {
            "id": region["id"], "from_name": from_name, "to_name": region["to_name"],
            "type": "textarea", "origin": "manual", "image_rotation": 0,
            "original_width": width, "original_height": height,
            "value": {"x": box[0] / width * 100, "y": box[1] / height * 100,
                      "width": (box[2] - box[0]) / width * 100,
                      "height": (box[3] - box[1]) / height * 100,
                      "rotation": 0, "text": [text]},
        }
        return [{"result": [transcription, region], "score": 0,
                 "model_version": self.get("model_version")}]
