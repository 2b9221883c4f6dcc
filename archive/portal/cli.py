"""`recast-archive serve | push | pull`. Heavy imports (uvicorn, starlette, requests) happen inside
the commands, so `recast-archive --help` stays quick."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import click

from yadage2x.cli import reports_errors

from .config import PortalError

data_option = click.option(
    "--data", type=click.Path(file_okay=False, path_type=Path), envvar="RECAST_PORTAL_DATA",
    default="portal-data", show_default=True, help="Where the portal keeps its database and files.",
)
portal_option = click.option("--portal", metavar="URL", help="The portal (else RECAST_PORTAL_URL, else the config file).")
token_options = [
    click.option("--token-file", metavar="FILE", help="Read the token from FILE (else RECAST_PORTAL_TOKEN_FILE / RECAST_PORTAL_TOKEN / config)."),
    click.option("--token", metavar="TOKEN", help="The token itself (visible to other users in the process list: prefer --token-file)."),
]
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
jobs_option = click.option("-j", "--jobs", type=click.IntRange(1, 16), help="Files transferred at the same time (default 2, or RECAST_PORTAL_JOBS).")


def with_token(command):
    for option in reversed(token_options):
        command = option(command)
    return command


@click.group(invoke_without_command=True)
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (plain HTTP: keep it local).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--idle-timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Disconnect a client that sends nothing for this long in the middle of a request.")
@click.pass_context
@reports_errors
def serve(ctx, data: Path, host: str, port: int, idle_timeout: float):
    """Run the embedded portal: CAP's deposit API (deposits, files, publish, records, permissions)
    with SQLite and files under --data. `serve token EMAIL` issues a token."""
    ctx.obj = data
    if ctx.invoked_subcommand:
        return
    import uvicorn

    from .faults import from_environment
    from .server import PortalProtocol, create_app

    try:
        faults = from_environment()
    except ValueError as exc:
        raise PortalError(str(exc)) from None
    try:
        data.mkdir(parents=True, exist_ok=True)
        app = create_app(data, faults)
    except OSError as exc:
        raise PortalError(f"{data}: cannot use as the portal's data folder ({exc.strerror})") from None
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        raise PortalError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    bound = listener.getsockname()[1]
    if faults.enabled:
        click.echo("recast-archive serve: FAULT INJECTION IS ON (RECAST_PORTAL_FAULTS): for tests only", err=True)
    # the first line of output says where the portal is: tests and scripts read it
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"recast-archive portal at http://{shown}:{bound} (data: {data})")
    sys.stdout.flush()
    config = uvicorn.Config(app, http=PortalProtocol.with_idle_timeout(idle_timeout), log_level="warning",
                            access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listener])


@serve.command("token")
@click.argument("email")
@click.option("--expires-in", type=click.IntRange(min=1), metavar="SECONDS", help="The token stops working after SECONDS (default: never).")
@click.pass_obj
@reports_errors
def token(data: Path, email: str, expires_in: int | None):
    """Issue a token for the user EMAIL (printed once; only its hash is stored)."""
    from datetime import datetime, timezone

    from .storage import Storage

    if "@" not in email or any(c.isspace() for c in email):
        raise PortalError(f"not an email address: {email!r}")
    storage = Storage(data)
    try:
        secret, expires = storage.issue_token(email, expires_in)
    finally:
        storage.close()
    click.echo(secret)
    if expires is not None:  # on standard error: standard output is the token alone, for `> token-file`
        click.echo(f"expires {datetime.fromtimestamp(expires, timezone.utc):%Y-%m-%d %H:%M:%S} UTC", err=True)


@click.command()
@click.argument("deposit", type=click.Path(path_type=Path))
@portal_option
@with_token
@click.option("--publish", is_flag=True, help="Publish once every file is up: the bucket locks, a record appears.")
@click.option("--packed", is_flag=True, help="Upload the bag as one tar (for portals that limit the number of files).")
@click.option("--title", help="The analysis title (default: the folder's name).")
@click.option("--type", "schema", default="recast-archive", show_default=True, help="The portal's deposit type ($ana_type).")
@click.option("--deposit-id", metavar="PID", help="Upload into this existing draft.")
@click.option("--new", is_flag=True, help="Start a new draft even if an earlier push of this bag was interrupted.")
@jobs_option
@quiet_option
@reports_errors
def push(deposit: Path, portal, token_file, token, publish, packed, title, schema, deposit_id, new, jobs, quiet):
    """Upload the deposit DEPOSIT (a BagIt bag) to a portal; re-running an interrupted push
    uploads only what is missing. Prints `deposit PID` (and `record RECID` when published)."""
    from .config import resolve
    from .transfer import push as run_push

    if not deposit.is_dir():
        raise PortalError(f"{deposit}: no such deposit folder")
    settings = resolve(portal, token, token_file, progress=not quiet, jobs=jobs)
    started = time.monotonic()
    result = run_push(settings, deposit, publish=publish, packed=packed, schema=schema, title=title,
                      deposit_id=deposit_id, new=new)
    click.echo(f"{deposit}: {result.uploaded} files uploaded, {result.skipped} already on the portal "
               f"({time.monotonic() - started:.1f} s)", err=True)
    click.echo(f"deposit {result.pid}")
    if result.recid:
        click.echo(f"record {result.recid}")


@click.command()
@click.argument("ident", metavar="ID")
@portal_option
@with_token
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="The deposit folder to create.")
@jobs_option
@quiet_option
@reports_errors
def pull(ident: str, portal, token_file, token, out: Path, jobs, quiet):
    """Download deposit or record ID into a new deposit folder, every file checked (md5 against the
    portal, sha256 against the bag's manifests); the folder appears only once complete."""
    from .config import resolve
    from .transfer import pull as run_pull

    settings = resolve(portal, token, token_file, progress=not quiet, jobs=jobs)
    started = time.monotonic()
    downloaded, reused = run_pull(settings, ident, out)
    click.echo(f"{out}: pulled {ident}: {downloaded} files downloaded, {reused} already here from an interrupted pull "
               f"({time.monotonic() - started:.1f} s)", err=True)


COMMANDS = (serve, push, pull)
