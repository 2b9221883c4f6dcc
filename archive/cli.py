"""The `recast-archive` command. Its sub-commands (pack, verify, push, pull, run, serve) arrive
with the archive issues; `validate` already checks a workflow the way `pack` will."""
from __future__ import annotations

import click

from yadage2x import __version__
from yadage2x.cli import validate

from .commands import pack, run, verify
from .portal.cli import pull, push, serve


@click.group()
@click.version_option(__version__, prog_name="recast-archive")
def main() -> None:
    """Preserve a yadage analysis so it can be re-run years later."""


main.add_command(validate)
for _command in (pack, verify, run, serve, push, pull):
    main.add_command(_command)
