"""The CJK font subset, inline: a page that carries its own font shows its Chinese labels on any
machine, with or without a CJK font installed, and fetches nothing."""

import base64
from functools import cache
from pathlib import Path

FONT_FILE = Path(__file__).parent / "fonts" / "noto-sans-sc-report.woff"
FAMILY = "Pulse CJK"


@cache
def font_face_css() -> str:
    """Read once, at the first page (never at import): about 21 kB of CSS."""
    encoded = base64.b64encode(FONT_FILE.read_bytes()).decode("ascii")
    # unicode-range: the browser takes only CJK characters from it, Latin text keeps the system font.
    return (f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; font-weight: 400; font-display: block; '
            f'src: url(data:font/woff;base64,{encoded}) format("woff"); '
            "unicode-range: U+2E80-9FFF, U+F900-FAFF, U+FF00-FFEF; }\n")
