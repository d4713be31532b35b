"""The `pulse` command: operator commands of the platform and the analysts' tools.

Heavy modules (FastAPI, SQLAlchemy, the services) are imported inside the commands that need
them, so that `pulse clv` and `pulse --help` start quickly.
"""

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from services.common.settings import Settings
from services.demo.cli import demo
from services.scoring.analysis.cli import clv_app

app = typer.Typer(help="Customer Pulse command line.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
contract_app = typer.Typer(help="The published event contract (AsyncAPI and JSON Schemas).", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal data at rest.", no_args_is_help=True)
scoring_app = typer.Typer(help="The scoring service's models.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(contract_app, name="contract")
app.add_typer(privacy_app, name="privacy")
app.add_typer(clv_app, name="clv")
app.add_typer(scoring_app, name="scoring")
app.command()(demo)
console = Console(stderr=True)
DOCS_EVENTS = Path("docs/events")


@app.command()
def run() -> None:
    """Start the embedded stack: four services in one process, in-process bus, SQLite under ./data/."""
    from services.embedded import main

    def announce(ports: dict, new_key: str | None, key_file: Path) -> None:
        for name, port in ports.items():
            console.print(f"{name:9} http://127.0.0.1:{port}  (docs: /docs, metrics: /metrics)")
        if new_key:
            console.print(f"admin API key (also in {key_file}, mode 0600): {new_key}")
        else:
            console.print(f"admin API key: see {key_file}")

    main(Settings(), announce)


@app.command()
def serve(service: str = typer.Argument(..., help="profiles, feedback, scoring or alerts")) -> None:
    """Start one service alone (the distributed mode), as `python -m services.<service>` does."""
    import runpy
    runpy.run_module(f"services.{service}", run_name="__main__")


@app.command()
def migrate(services: list[str] = typer.Argument(None, help="profiles, feedback, scoring, alerts; all when none is named")) -> None:
    """Apply the database migrations of services and of the API-key database, then exit
    (a deployment runs this once per release; a service also migrates at start)."""
    import importlib

    from services.common.bootstrap import build_key_store
    from services.common.database import COMMON_MIGRATIONS, Database
    from services.common.settings import SERVICE_PORTS

    names = services or list(SERVICE_PORTS)
    unknown = sorted(set(names) - set(SERVICE_PORTS))
    if unknown:
        console.print(f"error: unknown service {', '.join(unknown)}; one of {', '.join(SERVICE_PORTS)}")
        raise typer.Exit(2)
    settings = Settings()

    async def apply(database: Database) -> None:
        try:
            await database.migrate()
        finally:
            await database.dispose()

    asyncio.run(apply(build_key_store(settings).database))
    for name in names:
        spec = importlib.import_module(f"services.{name}.app").SPEC
        folders = [COMMON_MIGRATIONS / "versions"] + ([spec.migrations] if spec.migrations else [])
        asyncio.run(apply(Database(settings.database_url_for(name), migrations=folders)))
        console.print(f"{name}: migrated")


@app.command()
def backup(out: Path = typer.Option(..., help="A new or empty folder for the backup")) -> None:
    """Copy every database and key file of the embedded mode, online, into OUT (owner-only)."""
    from services.common.backup import BackupError, take_backup
    try:
        manifest = take_backup(Settings(), out)
    except BackupError as error:
        typer.echo(f"error: {error}", err=True)  # one line, whatever the terminal's width
        raise typer.Exit(1) from None
    console.print(f"backed up {', '.join(entry['file'] for entry in manifest['files'])} into {out}")


@app.command()
def restore(backup_dir: Path = typer.Argument(..., help="A folder written by `pulse backup`"),
            force: bool = typer.Option(False, "--force", help="Replace what PULSE_DATA_DIR holds")) -> None:
    """Restore a backup into PULSE_DATA_DIR (./data/); the embedded stack must be stopped."""
    from services.common.backup import BackupError
    from services.common.backup import restore as restore_backup
    settings = Settings()
    try:
        manifest = restore_backup(settings, backup_dir, force=force)
    except BackupError as error:
        typer.echo(f"error: {error}", err=True)  # one line, whatever the terminal's width
        raise typer.Exit(1) from None
    console.print(f"restored the backup of {manifest['started_at']} into {settings.data_dir}")


@keys_app.command("create")
def create_key(role: str = typer.Option(..., help="admin, manager, agent, analyst or service"),
               name: str = typer.Option(..., help="Who or what uses the key")) -> None:
    """Create an API key and print it once."""
    from services.common.auth import ROLE_PERMISSIONS
    if role not in ROLE_PERMISSIONS:
        console.print(f"error: --role must be one of {', '.join(ROLE_PERMISSIONS)}")
        raise typer.Exit(2)
    record, key = asyncio.run(_with_key_store(lambda store: store.create(name=name, role=role)))
    typer.echo(key)
    console.print(f"created key {record.id} ({record.role})")


@keys_app.command("list")
def list_keys() -> None:
    """List API keys (never their secrets)."""
    for record in asyncio.run(_with_key_store(lambda store: store.list())):
        state = "revoked" if record.revoked_at else "active"
        typer.echo(f"{record.id}  {record.role:8} {state:8} {record.name}")


@keys_app.command("revoke")
def revoke_key(key_id: str) -> None:
    """Revoke an API key."""
    if not asyncio.run(_with_key_store(lambda store: store.revoke(key_id))):
        console.print(f"error: no active key {key_id}")
        raise typer.Exit(1)


async def _with_key_store(action):
    from services.common.bootstrap import build_key_store
    store = build_key_store(Settings())
    await store.database.migrate()
    try:
        return await action(store)
    finally:
        await store.database.dispose()


@scoring_app.command("refit")
def refit_scoring(
    as_of: str = typer.Option(None, help="Fit on the purchases up to this moment (ISO 8601 with a zone); default now"),
    model: str = typer.Option(None, help="mbgnbd or bgnbd; default PULSE_SCORING_MODEL"),
) -> None:
    """Refit the CLV models now and re-score every customer (running instances pick the fit up)."""
    from services.scoring.operations import refit_from_command_line

    try:
        status = asyncio.run(refit_from_command_line(Settings(), as_of=as_of, model=model))
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    typer.echo(json.dumps(status, indent=2))


@app.command()
def report(
    from_: str = typer.Option(..., "--from", help="First day (2026-01-01, UTC) or moment (ISO 8601 with a zone)"),
    to: str = typer.Option(..., help="End of the period, not included: day or moment"),
    out: Path = typer.Option(Path("report.html"), help="The page to write (one self-contained HTML file)"),
    url: str = typer.Option(None, help="The scoring API; default http://127.0.0.1:<scoring port>"),
    key: str = typer.Option(None, envvar="PULSE_API_KEY", help="A key that may read scores; default data/admin-api-key"),
) -> None:
    """The period summary (工作总结) as a page for managers, from a running scoring API."""
    from services.scoring.report_command import ReportFailed, write_report
    try:
        console.print(f"wrote {write_report(Settings(), start=from_, end=to, out=out, url=url, key=key)}")
    except (ReportFailed, OSError) as error:
        console.print(f"error: {error}", soft_wrap=True)
        raise typer.Exit(1) from error


@privacy_app.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt the profiles' personal data with the first key of PULSE_ENCRYPTION_KEYS."""
    from services.common.bootstrap import resolve_secrets
    from services.common.database import COMMON_MIGRATIONS, Database
    from services.common.privacy import FieldCipher
    from services.profiles.app import SPEC
    from services.profiles.reencrypt import reencrypt_personal_data

    settings = Settings()

    async def rewrite() -> int:
        database = Database(settings.database_url_for("profiles"), migrations=[COMMON_MIGRATIONS / "versions", SPEC.migrations])
        try:
            await database.migrate()
            return await reencrypt_personal_data(database, FieldCipher(resolve_secrets(settings).encryption_keys))
        finally:
            await database.dispose()

    console.print(f"re-encrypted {asyncio.run(rewrite())} rows")


@contract_app.command("write")
def write_contract(folder: Path = typer.Option(DOCS_EVENTS, help="Where the contract is published")) -> None:
    """Regenerate the AsyncAPI document and JSON Schemas from the event models."""
    from services.common.contract import write_contract as write
    written = write(folder, Settings())
    console.print(f"wrote {len(written)} files under {folder}")


@contract_app.command("check")
def check_contract(folder: Path = typer.Option(DOCS_EVENTS, help="Where the contract is published")) -> None:
    """Fail if the published contract differs from the event models in code."""
    from services.common.contract import contract_differences
    differences = contract_differences(folder, Settings())
    for difference in differences:
        console.print(f"differs: {difference}")
    raise typer.Exit(1 if differences else 0)


def main() -> None:
    """The console script: an operator sees one line per failure, never a traceback."""
    try:
        app()
    except Exception as error:
        console.print(f"error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        sys.exit(1)


if __name__ == "__main__":
    main()
