"""`pulse demo` as an operator meets it: the services' addresses, and one line when nothing answers."""

from typer.testing import CliRunner

from services.cli import app
from services.demo.command import stack_urls


def test_one_host_gives_the_four_services_on_their_ports():
    assert stack_urls("http://shop.example:8001/", 0) == {
        "profiles": "http://shop.example:8001", "feedback": "http://shop.example:8002",
        "scoring": "http://shop.example:8003", "alerts": "http://shop.example:8004"}
    assert stack_urls("http://127.0.0.1", 300)["alerts"] == "http://127.0.0.1:8304"


def test_nothing_answering_is_one_line_without_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["demo", "--url", "http://127.0.0.1", "--port-offset", "1187", "--customers", "5"])
    assert result.exit_code == 1
    assert "nothing answers at http://127.0.0.1:9188/readyz" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "embedded.pid").exists()
