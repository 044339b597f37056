"""Writes tesseract/test_images/: a 1080x1349 white page with three words in the boxes
the tesseract example's test draws, and the same page stored rotated, with the EXIF
orientation (6) that turns it upright. Run once; the images are committed.

    python tests/data/examples/make_tesseract_images.py
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1080, 1349
# (word, box as percentages of the page: x, y, width, height), as in the test's requests.
WORDS = [("KENAPA", (2.589, 15.597, 44.39, 12.438)),
         ("HARUS", (3.083, 30.997, 37.238, 11.747)),
         ("PUNYA", (2.713, 45.114, 37.608, 12.142))]
EXIF_ORIENTATION = 0x0112
ROTATED_90_CW = 6  # the stored pixels must be turned 90° clockwise to be upright
FOLDER = Path(__file__).parent / "tesseract" / "test_images"


def page() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=96)
    for word, (x, y, w, h) in WORDS:
        left, top = x * WIDTH / 100, y * HEIGHT / 100
        box = (left, top, left + w * WIDTH / 100, top + h * HEIGHT / 100)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        draw.text(centre, word, fill="black", font=font, anchor="mm")
    return image


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    upright = page()
    upright.save(FOLDER / "image.jpeg", quality=90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_90_CW
    # Stored turned 90° counter-clockwise: orientation 6 turns it back.
    upright.transpose(Image.Transpose.ROTATE_90).save(
        FOLDER / "image_has_exif_orientation.jpeg", quality=90, exif=exif)


if __name__ == "__main__":
    main()
