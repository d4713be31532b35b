"""The `pulse` command: operator commands of the platform and the analysts' tools."""

import typer

from services.scoring.cli import clv_app

app = typer.Typer(help="Customer Pulse command line.", no_args_is_help=True, add_completion=False)
app.add_typer(clv_app, name="clv")
