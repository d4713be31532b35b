"""The managers' page from the scoring API, opened in a real headless Chromium: a screenshot that
is a picture (not a blank or a single colour), every section found in the rendered DOM, and the
Chinese labels drawn with the page's own font on a machine that has no CJK font at all.

Chromium comes from deploy/browser/chromium.sh (Debian's `chromium`, installed if missing)."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from services.scoring.summary_page.labels import SECTIONS
from tests.common.test_browser import chromium_path
from tests.scoring.summary_samples import SHOP_PERIOD
from tests.scoring.test_summary_report_api import open_shop, settings_for_tests

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1280, 3600
# Fonts without a single CJK glyph: whatever Chinese the browser draws comes from the page.
NO_CJK_FONTS = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir>
<include ignore_missing="yes">/etc/fonts/conf.d</include></fontconfig>
"""
FONT_PROBE = """<script>
// Once the inline CJK face is loaded: are the page's Chinese names drawn with it? A CJK glyph is
// one em wide; the box drawn for a glyph no font has is about half that.
document.fonts.load('16px "Pulse CJK"', '工作总结高价值').then(faces => setTimeout(() => {
  const chinese = [...document.querySelectorAll(".zh")];
  const widths = chinese.map(name => name.getBoundingClientRect().width
                                     / (name.textContent.trim().length * parseFloat(getComputedStyle(name).fontSize)));
  const out = document.createElement('pre');
  out.id = 'font-probe';
  out.textContent = JSON.stringify({faces: faces.map(face => face.family + ':' + face.status),
                                    ready: document.fonts.check('16px "Pulse CJK"', '工作总结高价值'),
                                    names: widths.length, narrowest: Math.min(...widths),
                                    each: chinese.map((name, i) => name.textContent + ":" + widths[i].toFixed(2))});
  document.body.appendChild(out);
}, 500));
</script></body>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


def browser_env(tmp_path: Path) -> dict:
    config = tmp_path / "fonts.conf"
    config.write_text(NO_CJK_FONTS.format(cache=tmp_path / "fc-cache"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FONTCONFIG_FILE": str(config)}
    chinese = subprocess.run(["fc-list", ":lang=zh"], env=env, capture_output=True, text=True, timeout=60)
    assert chinese.returncode == 0 and chinese.stdout.strip() == "", chinese.stdout  # the browser has no CJK font
    return env


def run_chromium(chromium: str, env: dict, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--hide-scrollbars", f"--user-data-dir={profile}", *args],
        env=env, capture_output=True, text=True, timeout=180,
    )


async def test_the_page_renders_in_chromium_with_every_section_and_its_own_cjk_font(tmp_path, chromium):
    async with open_shop(settings_for_tests(tmp_path / "shop")) as shop:
        answer = await shop.client.get("/v1/reports/summary", params=SHOP_PERIOD, headers=shop.auth() | {"Accept": "text/html"})
    assert answer.status_code == 200
    page = tmp_path / "report.html"
    page.write_text(answer.text, encoding="utf-8")
    env = browser_env(tmp_path)

    shot = tmp_path / "report.png"
    done = run_chromium(chromium, env, tmp_path / "profile-shot", f"--window-size={WIDTH},{HEIGHT}",
                        f"--screenshot={shot}", "--virtual-time-budget=5000", page.as_uri())
    assert shot.exists(), done.stderr[-1500:]
    assert shot.stat().st_size > 50_000  # a blank page of this size compresses to a few kB
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        colours = image.convert("RGB").getcolors(maxcolors=WIDTH * HEIGHT)
    assert len(colours) > 200  # charts, text and their anti-aliasing, not one flat colour
    assert max(n for n, _ in colours) < 0.9 * WIDTH * HEIGHT

    probed = tmp_path / "probed.html"
    probed.write_text(answer.text.replace("</body>", FONT_PROBE), encoding="utf-8")
    dom = run_chromium(chromium, env, tmp_path / "profile-dom", "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()).stdout
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', dom, re.S))
    assert list(sections) == list(SECTIONS), dom[-1000:]
    for section_id, (english, _) in SECTIONS.items():
        assert re.search(rf"<h2>{re.escape(english)} ", sections[section_id]) and "<svg" in sections[section_id], section_id
    probe = re.search(r'<pre id="font-probe">(.*?)</pre>', dom, re.S)
    assert probe, "the font probe did not finish"
    result = json.loads(probe.group(1))
    assert result["faces"] == ["Pulse CJK:loaded"] and result["ready"] is True
    assert result["names"] >= 20 and result["narrowest"] > 0.9, result  # every Chinese name in the page's own font
