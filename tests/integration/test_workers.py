"""Several processes of one service share a port on PostgreSQL; their socket turns Nagle off."""

import socket

import httpx
import pytest
from cryptography.fernet import Fernet

from services.common.runner import _TcpConfig
from tests.integration.service_process import ServiceProcess
from tests.support.scripts import free_port


def test_the_shared_socket_says_tcp_so_asyncio_turns_nagle_off():
    config = _TcpConfig("services.common.runner:service_app_from_environment", host="127.0.0.1", port=free_port(), workers=2)
    sock = config.bind_socket()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


@pytest.mark.postgres
@pytest.mark.kafka
def test_two_workers_serve_writes_on_postgresql(tmp_path, postgres_server, kafka_bootstrap):
    env = {"PULSE_BUS": "kafka", "PULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "PULSE_DATABASE_URL": postgres_server.create_database("workers_test"),
           "PULSE_DATA_DIR": str(tmp_path), "PULSE_WORKERS": "2", "PULSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "PULSE_HASH_KEY": "w"}
    service = ServiceProcess("profiles", env, tmp_path / "profiles.log")
    key = service.cli("keys", "create", "--role", "admin", "--name", "w")
    service.start()
    try:
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {key}"}) as client:
            ids = {client.post("/v1/customers", json={"name": f"客户{n}"}).json()["id"] for n in range(20)}
            assert len(ids) == 20
            listed = client.get("/v1/customers", params={"limit": 50}).json()["items"]
            assert {item["id"] for item in listed} == ids
    finally:
        service.stop()
