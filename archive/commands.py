"""The deposit commands of `recast-archive`: pack, verify, run (registered in archive/cli.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from yadage2x.cli import init_data, inputs_opt, param_opt, reports_errors, toplevel_opt, workflow_arg

EXIT_PROBLEMS = 1


@click.command()
@workflow_arg
@toplevel_opt
@inputs_opt
@param_opt
@click.option("--input-files", multiple=True, type=click.Path(exists=True), metavar="PATH", help="A file, or the contents of a folder, to put in the init directory (data/inputs/); repeatable.")
@click.option("--link-inputs", is_flag=True, help="Hard-link input files into the deposit where they share a file system, instead of copying them.")
@click.option("--with-images", is_flag=True, help="Store every image (OCI image layout) so the deposit runs when the registry has lost it.")
@click.option("--platform", default="linux/amd64", show_default=True, help="Platform stored for multi-platform images.")
@click.option("--title", help="Title of the deposit (default: from the workflow's name).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="The deposit folder to write (must not exist).")
@reports_errors
def pack(workflow, toplevel, inputs, params, input_files, link_inputs, with_images, platform, title, output):
    """Preserve WORKFLOW as a deposit: BagIt bag, Workflow RO-Crate, images pinned by digest."""
    from .pack import Request, pack as build

    request = Request(workflow, toplevel, init_data(inputs, params) or {}, list(input_files), with_images, platform, title, link_inputs)
    target = build(request, Path(output))
    click.echo(f"wrote {target}")


@click.command()
@click.argument("deposit", type=click.Path(file_okay=False))
@reports_errors
def verify(deposit):
    """Check a deposit: checksums, files, specs, digests, images. Exit 0, or 1 with one line per problem."""
    from .verify import verify as check

    problems = check(Path(deposit))
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(EXIT_PROBLEMS)
    click.echo(f"{deposit}: ok")


@click.command()
@click.argument("deposit", type=click.Path(file_okay=False))
@click.option("--engine", type=click.Choice(["yadage", "snakemake", "cwl"]), default="yadage", show_default=True)
@param_opt
@click.option("--registry", metavar="HOST:PORT", help="Restore the deposit's images into this registry (default: the local Docker engine).")
@click.option("-w", "--workdir", required=True, type=click.Path(file_okay=False), help="Where to run (must not exist).")
@reports_errors
def run(deposit, engine, params, registry, workdir):
    """Restore a deposit and run it, with new parameters where given (-p)."""
    from .run import run as execute

    result = execute(Path(deposit), engine, init_data(None, params) or {}, Path(workdir), registry)
    click.echo(f"{engine}: {result.status}; results in {result.results}; capture {result.capture}")
    if result.status != "success":
        click.echo(f"log: {result.log}", err=True)
        sys.exit(EXIT_PROBLEMS)
