"""The `pulse demo` command's options; the work is imported when it runs, so `pulse --help` stays quick."""

import asyncio

import typer
from rich.console import Console

from services.common.settings import Settings


def demo(url: str = typer.Option("http://127.0.0.1", help="The stack's host; the services answer on their ports 8001-8004"),
         port_offset: int = typer.Option(0, help="Added to every port, as PULSE_PORT_OFFSET"),
         api_key: str = typer.Option(None, envvar="PULSE_API_KEY", help="An admin key; default the embedded stack's key file"),
         customers: int = typer.Option(20_000, min=1), seed: int = typer.Option(7),
         wait: float = typer.Option(120.0, min=0, help="Seconds to wait for scoring to learn the history"),
         start: bool = typer.Option(False, help="Start the embedded stack in the background when nothing answers")) -> None:
    """Fill a running stack with a demo shop through its public APIs (a second run adds nothing)."""
    from services.demo.command import DemoError, fill, run_demo, stack_urls

    console = Console(stderr=True)
    try:
        asyncio.run(run_demo(fill.Options(customers=customers, seed=seed, wait_seconds=wait), stack_urls(url, port_offset), api_key,
                             start=start, console=console, settings=Settings()))
    except DemoError as error:
        console.print(f"error: {error}")
        raise typer.Exit(1) from error
