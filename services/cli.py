"""The `pulse` command: operator commands of the platform and the analysts' tools."""

import typer

app = typer.Typer(help="Customer Pulse command line.", no_args_is_help=True, add_completion=False)
