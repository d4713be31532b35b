"""/docs works on a network without internet access: a real headless browser, allowed to reach
nothing but 127.0.0.1, renders the page and lists the service's operations."""

import asyncio
import re

import pytest
import uvicorn

from tests.harness import create_app, settings_for_tests
from tests.harness import test_platform as platform_for_tests
from tests.support.scripts import DEPLOY, free_port, run_script

pytestmark = pytest.mark.slow

# Every host name resolves to nothing, so a page that needed the internet would stay blank.
LOOPBACK_ONLY = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture(scope="session")
def chromium() -> str:
    return run_script([DEPLOY / "browser" / "chromium.sh"], env={}, timeout=900).splitlines()[-1]


async def _rendered_page(chromium: str, url: str, profile_dir) -> str:
    browser = await asyncio.create_subprocess_exec(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--host-resolver-rules={LOOPBACK_ONLY}", f"--user-data-dir={profile_dir}",
        "--virtual-time-budget=15000", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    page, _ = await asyncio.wait_for(browser.communicate(), timeout=120)
    return page.decode()


@pytest.mark.parametrize(("service", "operation"), [
    ("profiles", "/v1/customers"), ("feedback", "/readyz"), ("scoring", "/readyz"), ("alerts", "/readyz"),
])
async def test_the_api_docs_render_offline_and_list_the_operations(service, operation, chromium, tmp_path):
    platform, _ = platform_for_tests(settings_for_tests(tmp_path), None, {})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service, platform), host="127.0.0.1", port=port,
                                           lifespan="on", log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the service did not start"
            await asyncio.sleep(0.05)
        page = await _rendered_page(chromium, f"http://127.0.0.1:{port}/docs", tmp_path / "browser")
    finally:
        server.should_exit = True
        await serving
        await platform.key_store.database.dispose()
    assert 'class="opblock-summary-path"' in page, "Swagger UI did not render the operations"
    assert f'data-path="{operation}"' in page
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("/docs/static/swagger-ui-bundle.js" in url for url in referenced)
    outside = [url for url in referenced if re.match(r"(?i)https?://", url) and not url.startswith("http://127.0.0.1")]
    assert outside == [], f"the page references {outside}"
