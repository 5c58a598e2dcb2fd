"""Scans of filled forms, as people make them: for the OCR tests and ``scripts/bench_ocr.py``.

``make_scan(org, layout, level, fmt)`` draws the organisation's Allegato 1 as a PDF
(:func:`pec_ingest.samples.pdf_forms.build_pdf`), renders it to an image with ``pdftoppm``
(poppler-utils), degrades it as a scanner or a phone does at the given noise ``level`` (lower
resolution, skew, Gaussian noise, blur, JPEG compression, a page turned sideways), adds a
second page with an identity-document-like photo (the representative's personal codice
fiscale printed on it: a trap for the reader) and writes it as a PDF, JPEG, PNG or TIFF.
"""

from __future__ import annotations

import io
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pec_ingest.samples.pdf_forms import build_pdf
from pec_ingest.samples.people import Organisation

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class Level:
    name: str
    dpi: int
    skew: float  # degrees, sign chosen at random
    noise: float  # weight of Gaussian noise blended in (0 = none)
    blur: float  # Gaussian blur radius in pixels
    jpeg: int  # JPEG quality (0 = lossless)
    sideways: bool = False  # the page was scanned turned by 90 degrees


LEVELS = (
    Level("pulita", 300, 0.0, 0.0, 0.0, 0),
    Level("realistica", 300, 0.8, 0.06, 0.4, 75),
    Level("girata", 300, 0.5, 0.06, 0.4, 75, sideways=True),
    Level("scadente", 200, 2.0, 0.15, 0.9, 40),
    Level("pessima", 150, 4.0, 0.30, 1.4, 20),
)
REALISTIC = LEVELS[1]


def render(pdf: bytes, dpi: int) -> Image.Image:
    """The first page of ``pdf`` as a grayscale image, by ``pdftoppm``."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "form.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-singlefile",
                        str(source), str(Path(tmp) / "page")], check=True, timeout=60)
        with Image.open(Path(tmp) / "page.png") as image:
            return image.convert("L")


def degrade(image: Image.Image, level: Level, rng: random.Random) -> Image.Image:
    """The page as the scanner of ``level`` returns it."""
    out = image
    if level.skew:
        out = out.rotate(rng.choice((-1, 1)) * level.skew, resample=Image.Resampling.BICUBIC,
                         expand=True, fillcolor=255)
    if level.blur:
        out = out.filter(ImageFilter.GaussianBlur(level.blur))
    if level.noise:
        out = Image.blend(out, Image.effect_noise(out.size, 90).convert("L"), level.noise)
    if level.sideways:
        out = out.rotate(90, expand=True)
    return out


def id_document(org: Organisation, dpi: int) -> Image.Image:
    """A page with a photo of an identity card: a face, a gradient, the person's data."""
    page = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    card = Image.linear_gradient("L").resize((round(3.4 * dpi), round(2.1 * dpi)))
    draw = ImageDraw.Draw(card)
    unit = dpi // 10
    draw.ellipse((unit, 3 * unit, 9 * unit, 17 * unit), fill=90)  # the face
    font = (ImageFont.truetype(str(_FONT), max(10, dpi // 12)) if _FONT.exists()
            else ImageFont.load_default())
    last, first = org.legale_rappresentante.split(" ", 1)[::-1]
    for i, text in enumerate(("REPUBBLICA ITALIANA  CARTA D'IDENTITÀ", f"COGNOME {last.upper()}",
                              f"NOME {first.upper()}", f"CODICE FISCALE {org.rappresentante_cf}",
                              "RILASCIATA DAL COMUNE DI MILANO")):
        draw.text((11 * unit, (2 + 3 * i) * unit), text, fill=0, font=font)
    page.paste(card.rotate(7, expand=True, fillcolor=255), (dpi, dpi))
    return page


def make_scan(org: Organisation, layout: str = "text", level: Level = REALISTIC,
              fmt: str = "pdf", seed: int = 0, id_page: bool = True) -> bytes:
    """The scan of ``org``'s form (and its identity document) as ``fmt`` bytes."""
    rng = random.Random(seed)
    pages = [degrade(render(build_pdf(org, layout), level.dpi), level, rng)]
    if id_page:
        pages.append(degrade(id_document(org, level.dpi), level, rng))
    if level.jpeg:
        pages = [_jpeg_round_trip(p, level.jpeg) for p in pages]
    return _encode(pages, fmt, level)


def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("L")


def _encode(pages: list[Image.Image], fmt: str, level: Level) -> bytes:
    buf = io.BytesIO()
    if fmt == "pdf":
        pages[0].save(buf, "PDF", resolution=level.dpi, save_all=True, append_images=pages[1:])
    elif fmt == "tiff":
        pages[0].save(buf, "TIFF", compression="tiff_lzw", dpi=(level.dpi, level.dpi),
                      save_all=True, append_images=pages[1:])
    elif fmt == "jpeg":  # a photo holds one page
        pages[0].save(buf, "JPEG", quality=level.jpeg or 90, dpi=(level.dpi, level.dpi))
    else:
        pages[0].save(buf, "PNG", dpi=(level.dpi, level.dpi))
    return buf.getvalue()


def judge_scan(org: Organisation, plain: dict[str, Any], sender: str | None) -> dict[str, str]:
    """Each field's fate after the proof gate, against the truth: ``proved`` (right),
    ``wrong`` (proved but not the truth: must never happen), ``suggested``, ``missing``.
    A field the form leaves empty (no partita IVA) is not listed unless a value is proved."""
    from parsers.proof import Evidence
    from pec_ingest.provenance import is_scan_reading, prove

    truth = org.truth()["fields"]
    if not is_scan_reading(plain):
        return dict.fromkeys(truth, "missing")
    form, sources = prove(plain, Evidence(certified_sender=sender))
    out = {}
    for name, expected in truth.items():
        value = form["fields"].get(name)
        if expected is None and value is None:
            continue
        if value is not None:
            out[name] = "proved" if value == expected else "wrong"
        else:
            out[name] = "suggested" if name in sources else "missing"
    if form["tavoli"]:  # tables are proved only when read from the boxes' geometry
        codes = [t["code"] for t in form["tavoli"]]
        right = codes == list(org.tavoli) if org.ranked else set(codes) == set(org.tavoli)
        out["tavoli"] = "proved" if right else "wrong"
    return out
