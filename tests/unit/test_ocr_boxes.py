"""Checkboxes located by their geometry on a drawn page (Pillow only, no OCR)."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from parsers.content import CHECKED, UNCHECKED
from parsers.ocr_text import OcrWord, ocr_lines
from pec_ingest.ocr_boxes import mark_boxes


def _page(inside: str) -> tuple[Image.Image, list[OcrWord]]:
    image = Image.new("L", (600, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 80, 140, 120), outline=0, width=3)
    if inside == "x":
        draw.line((104, 84, 136, 116), fill=0, width=4)
        draw.line((104, 116, 136, 84), fill=0, width=4)
    elif inside == "dot":
        draw.rectangle((117, 97, 120, 100), fill=0)  # a speck: neither blank nor ticked
    junk = OcrWord("DC]", 14.0, 1, (98, 80, 44, 42), (1, 1, 1))
    words = [junk, OcrWord("Area", 96.0, 1, (160, 85, 80, 32), (1, 1, 1)),
             OcrWord("Povertà", 95.0, 1, (255, 85, 130, 32), (1, 1, 1))]
    return image, words


@pytest.mark.parametrize(("inside", "glyph"), [("x", CHECKED), ("", UNCHECKED)])
def test_a_box_becomes_its_glyph_in_place_of_the_ocr_junk(inside: str, glyph: str) -> None:
    image, words = _page(inside)
    marked, count = mark_boxes(image, words)
    assert count.located == 1 and count.uncertain == 0
    assert ocr_lines(marked) == (f"{glyph} Area Povertà",)


def test_a_box_neither_blank_nor_ticked_is_left_to_staff() -> None:
    image, words = _page("dot")
    marked, count = mark_boxes(image, words)
    assert count.located == 0 and count.uncertain == 1
    assert CHECKED not in ocr_lines(marked)[0] and UNCHECKED not in ocr_lines(marked)[0]


def test_no_box_no_glyph() -> None:
    image = Image.new("L", (600, 200), 255)
    words = [OcrWord("1", 93.0, 1, (120, 85, 12, 32), (1, 1, 1)),
             OcrWord("Area", 96.0, 1, (160, 85, 80, 32), (1, 1, 1))]
    marked, count = mark_boxes(image, words)
    assert count.located == 0 and ocr_lines(marked) == ("1 Area",)
