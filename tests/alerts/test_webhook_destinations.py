"""Where webhooks may point: never at link-local or cloud metadata addresses, loopback and private
ranges only while the deployment allows them; checked when an endpoint is created and again on
every connection a delivery opens (a name may resolve elsewhere later)."""

import httpx
import pytest

from services.alerts.destinations import DestinationRefused, guarded_transport
from services.alerts.webhooks.addresses import refusal
from tests.alerts.conftest import alerts_service
from tests.alerts.receiver import local_receiver


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "fe80::1", "::ffff:169.254.169.254", "100.100.100.200",
                                     "fd00:ec2::254", "0.0.0.0", "224.0.0.1"])
def test_link_local_metadata_and_non_host_addresses_are_always_refused(address):
    assert refusal(address, block_private=False) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1", "fd12::1"])
def test_loopback_and_private_addresses_are_allowed_unless_blocked(address):
    assert refusal(address, block_private=False) is None
    assert refusal(address, block_private=True) is not None


def test_public_addresses_are_allowed():
    assert refusal("8.8.8.8", block_private=True) is None and refusal("2606:4700::1111", block_private=True) is None


async def create(alerts, url: str) -> httpx.Response:
    return await alerts.client.post("/v1/webhooks", json={"url": url}, headers=alerts.auth())


async def test_an_endpoint_that_is_not_http_or_points_at_metadata_is_refused_naming_the_url(alerts):
    for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:8080/",
                "http://[::ffff:169.254.169.254]/"):
        answer = await create(alerts, url)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"][0]["field"] == "url", url
    assert (await create(alerts, "http://127.0.0.1:1/hooks")).status_code == 201
    assert (await create(alerts, "http://localhost:1/hooks")).status_code == 201
    listed = (await alerts.client.get("/v1/webhooks", headers=alerts.auth())).json()["items"]
    assert len(listed) == 2  # nothing half-written


async def test_a_deployment_can_block_loopback_and_private_endpoints(tmp_path, database_url):
    async with alerts_service(tmp_path, database_url, webhook_block_private=True) as alerts:
        for url in ("http://127.0.0.1:1/hooks", "http://localhost:1/hooks", "http://10.0.0.5/hooks", "http://[::1]:1/"):
            answer = await create(alerts, url)
            assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "url", url


async def test_a_delivery_checks_the_address_again_when_it_connects(tmp_path, database_url):
    async with local_receiver() as receiver:
        async with alerts_service(tmp_path, database_url) as alerts:
            created = (await create(alerts, receiver.url)).json()
        # The same endpoint in a deployment that blocks loopback now (as if its name resolved elsewhere).
        async with alerts_service(tmp_path, database_url, webhook_block_private=True) as alerts:
            assert (await alerts.client.post(f"/v1/webhooks/{created['id']}:test", headers=alerts.auth())).status_code == 202
            await alerts.deliver()
            answer = await alerts.client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=alerts.auth())
            [delivery] = answer.json()["items"]
    assert receiver.requests == []
    assert [(t["outcome"], t["error"]) for t in delivery["tries"]] == [
        ("refused", "the host resolves to a loopback or private address, which this deployment blocks")]
    assert delivery["status"] == "pending"  # retried later, like any failed try


async def test_a_name_that_resolves_to_metadata_later_is_refused_at_connection(tmp_path):
    answers = [["127.0.0.1"], ["169.254.169.254"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0)

    async with local_receiver() as receiver:
        port = httpx.URL(receiver.url).port
        for expected in ("delivered", "refused"):
            async with httpx.AsyncClient(transport=guarded_transport(block_private=False, tls=httpx.create_ssl_context(), resolver=rebinding)) as client:
                try:
                    answer = await client.post(f"http://hooks.example:{port}/x", content=b"{}")
                    outcome = "delivered" if answer.status_code == 200 else answer.status_code
                except DestinationRefused:
                    outcome = "refused"
            assert outcome == expected
    assert [request.headers["host"] for request in receiver.requests] == [f"hooks.example:{port}"]
