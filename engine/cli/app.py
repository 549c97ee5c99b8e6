"""The `runbook` command: the click group and its verbs, one module each in `engine.cli`.

Each verb parses its options, builds a request, calls one function of `engine.modes` and
renders what comes back. A verb imports its mode when it runs: `runbook --help` loads
click and the verbs' options, nothing of weight.
"""

from __future__ import annotations

import click

from engine import __version__
from engine.cli.catalog import list_playbooks
from engine.cli.demo import demo
from engine.cli.drill import drill
from engine.cli.drills import drills
from engine.cli.export import export
from engine.cli.incidents import incident, incidents
from engine.cli.locks import locks
from engine.cli.maturity import demote, maturity, promote
from engine.cli.plan import plan
from engine.cli.postmortem import postmortem
from engine.cli.proposals import approve, proposals
from engine.cli.recover import recover
from engine.cli.regress import regress
from engine.cli.replay import replay
from engine.cli.rollback import rollback
from engine.cli.run import run
from engine.cli.runs import runs
from engine.cli.schema import schema
from engine.cli.serve import serve
from engine.cli.show import show
from engine.cli.tabletop import tabletop
from engine.cli.toil import toil
from engine.cli.triggers import escalations, triggers
from engine.cli.validate import validate
from engine.cli.wiki_import import import_runbook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
def cli() -> None:
    """Run runbooks safely: ordered, reversible steps, SLI-gated, maturity-aware."""


cli.add_command(validate)
cli.add_command(schema)
cli.add_command(list_playbooks)
cli.add_command(show)
cli.add_command(run)
cli.add_command(plan)
cli.add_command(rollback)
cli.add_command(runs)
cli.add_command(drill)
cli.add_command(drills)
cli.add_command(demo)
cli.add_command(locks)
cli.add_command(recover)
cli.add_command(serve)
cli.add_command(proposals)
cli.add_command(approve)
cli.add_command(triggers)
cli.add_command(escalations)
cli.add_command(import_runbook)
cli.add_command(toil)
cli.add_command(maturity)
cli.add_command(promote)
cli.add_command(demote)
cli.add_command(regress)
cli.add_command(tabletop)
cli.add_command(postmortem)
cli.add_command(export)
cli.add_command(replay)
cli.add_command(incident)
cli.add_command(incidents)
