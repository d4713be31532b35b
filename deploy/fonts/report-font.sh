#!/usr/bin/env bash
# Remakes the CJK font subset that the period report page embeds, from Debian's fonts-noto-cjk
# (Noto Sans CJK SC, SIL Open Font License 1.1), installed if missing. Run it after adding a
# Chinese label to services/scoring/summary_page/labels.py; tests/scoring/test_summary_page.py
# says when it is needed. Interface: `deploy/fonts/report-font.sh` -> the path written, on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PULSE_PYTHON:-.venv/bin/python}"
source_font=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
out=services/scoring/summary_page/fonts/noto-sans-sc-report.woff

if [ ! -f "$source_font" ]; then
  sudo_cmd=""
  if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi
  {
    $sudo_cmd apt-get update -o DPkg::Lock::Timeout=600
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -o DPkg::Lock::Timeout=600 fonts-noto-cjk
  } >&2
fi
text="$("$python" -c 'from services.scoring.summary_page.labels import cjk_characters; print(cjk_characters())')"
# Face 2 of the collection is Noto Sans CJK SC; hinting is dropped (screens of today do without).
"$python" -m fontTools.subset "$source_font" --font-number=2 --text="$text" --flavor=woff \
  --no-hinting --desubroutinize --layout-features='*' --name-IDs='*' --output-file="$out" >&2
echo "$out"
