#!/usr/bin/env bash
# Make the real servers the tests use available on this machine. Idempotent.
# - PostgreSQL on 127.0.0.1:5432: started if installed but stopped.
# - Dovecot (IMAP tests start their own private instance): installed with apt-get when missing
#   and we are root; the system service is not needed and not started.
# - Document fixtures are made by Python packages (reportlab, python-docx); the DejaVu font
#   (☒/☐ glyphs in generated PDFs) and LibreOffice (DOCX -> PDF round trip) are installed
#   with apt-get when missing and we are root.
# - Tesseract and its Italian model (scanned forms) and poppler-utils (pdftoppm, test scans):
#   installed with apt-get when missing and we are root.
set -uo pipefail

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        for v in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
        done
        for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    fi
fi
if pg_up; then echo "PostgreSQL: up on 127.0.0.1:5432"; else echo "PostgreSQL: NOT available"; fi

dovecot_bin() { command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; }
if ! dovecot_bin && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq dovecot-imapd || { apt-get update -qq && apt-get install -y -qq dovecot-imapd; }; } \
        >/tmp/ensure-servers-dovecot.log 2>&1 || echo "Dovecot: apt-get failed (see /tmp/ensure-servers-dovecot.log)"
fi
if dovecot_bin; then echo "Dovecot: installed"; else echo "Dovecot: NOT available"; fi

# A TrueType font with ☒/☐ for the generated PDF forms (fonts-dejavu-core).
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ ! -f "$FONT" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq fonts-dejavu-core || { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core; }; } \
        >/tmp/ensure-servers-fonts.log 2>&1 || echo "Fonts: apt-get failed (see /tmp/ensure-servers-fonts.log)"
fi
if [ -f "$FONT" ]; then echo "DejaVu font: installed"; else echo "DejaVu font: NOT available"; fi

# LibreOffice exports generated DOCX variants to PDF for the round-trip conformance test.
if ! command -v soffice >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq libreoffice-writer-nogui || { apt-get update -qq && apt-get install -y -qq libreoffice-writer-nogui; }; } \
        >/tmp/ensure-servers-libreoffice.log 2>&1 || echo "LibreOffice: apt-get failed (see /tmp/ensure-servers-libreoffice.log)"
fi
if command -v soffice >/dev/null 2>&1; then echo "LibreOffice: installed"; else echo "LibreOffice: NOT available (round-trip test skipped)"; fi

# poppler's pdftotext: the real-documents conformance test checks that every PDF it reads is read.
if ! command -v pdftotext >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq poppler-utils || { apt-get update -qq && apt-get install -y -qq poppler-utils; }; } \
        >/tmp/ensure-servers-poppler.log 2>&1 || echo "poppler-utils: apt-get failed (see /tmp/ensure-servers-poppler.log)"
fi
if command -v pdftotext >/dev/null 2>&1; then echo "pdftotext: installed"; else echo "pdftotext: NOT available"; fi
# Chromium and its WebDriver for the web desk's end-to-end tests (Selenium, headless).
if { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; } \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq chromium chromium-driver || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }; } \
        >/tmp/ensure-servers-chromium.log 2>&1 || echo "Chromium: apt-get failed (see /tmp/ensure-servers-chromium.log)"
fi
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "Chromium: installed"
else
    echo "Chromium: NOT available (browser tests skipped; under CI=true they fail)"
fi
# LibreOffice Calc renders the XLSX/CSV exports for the print test (test_export_print.py).
CALC=/usr/lib/libreoffice/program/libsclo.so
if [ ! -e "$CALC" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq libreoffice-calc-nogui || { apt-get update -qq && apt-get install -y -qq libreoffice-calc-nogui; }; } \
        >/tmp/ensure-servers-calc.log 2>&1 || echo "LibreOffice Calc: apt-get failed (see /tmp/ensure-servers-calc.log)"
fi
if [ -e "$CALC" ]; then echo "LibreOffice Calc: installed"; else echo "LibreOffice Calc: NOT available (export rendering test skipped)"; fi
# Tesseract with its Italian model reads scanned forms (issue 14); pdftoppm (poppler-utils)
# renders the test scans. Under CI=true the OCR tests fail when they are missing.
if { ! command -v tesseract >/dev/null 2>&1 || [ ! -f /usr/share/tesseract-ocr/5/tessdata/ita.traineddata ] \
     || ! command -v pdftoppm >/dev/null 2>&1; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq tesseract-ocr tesseract-ocr-ita poppler-utils || { apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-ita poppler-utils; }; } \
        >/tmp/ensure-servers-tesseract.log 2>&1 || echo "Tesseract: apt-get failed (see /tmp/ensure-servers-tesseract.log)"
fi
if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx ita; then
    echo "Tesseract (ita): installed"
else
    echo "Tesseract (ita): NOT available (OCR tests skipped; under CI=true they fail)"
fi
exit 0
