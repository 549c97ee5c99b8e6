"""`runbook maturity`, `runbook promote`, `runbook demote`: maturity on evidence."""

from __future__ import annotations

import sys

import click

from engine.cli.params import OUTPUT

POLICY = click.option(
    "--policy",
    type=click.Path(dir_okay=False),
    help="Promotion policy file [default: $RUNBOOK_HOME/maturity-policy.yaml if it exists,"
    " else the built-in policy].",
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@POLICY
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def maturity(paths: tuple[str, ...], policy: str | None, output: str) -> None:
    """The board: each playbook's declared and effective level, the evidence per rule for
    the next level, and what is missing (PATHS: files or folders, default playbooks).

    Exit 0; 1 when a playbook is invalid (its errors on stderr, the others on the board);
    2: bad input (a bad policy, no such path)."""
    from engine.core.errors import ExitCode
    from engine.modes.maturity.board import board, render_board, render_invalid
    from engine.modes.maturity.policy import load_policy
    from engine.ui.terminal_text import printable, say

    rules, _source = load_policy(policy)
    found = board(list(paths) or ["playbooks"], rules, None)
    shown = render_board(found, output)
    if shown:
        say(shown)
    if found.invalid:
        click.echo(printable(render_invalid(found)), err=True)
        sys.exit(ExitCode.FAILED)


@click.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to_level", type=click.IntRange(1, 3), required=True, help="The level.")
@click.option("--explain", is_flag=True, help="Show the rules and evidence; change nothing.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Promote without asking.")
@POLICY
def promote(
    playbook: str, to_level: int, explain: bool, assume_yes: bool, policy: str | None
) -> None:
    """Promote PLAYBOOK one level, on the evidence the ledger holds for its content.

    Exit 0: promoted (or, with --explain, the verdict is promote); 5: refused (a rule is
    violated); 6: inconclusive (not enough evidence yet); 2: bad input."""
    from engine.core.errors import ExitCode, RefusedError
    from engine.modes.maturity.board import render_one
    from engine.modes.maturity.policy import load_policy
    from engine.modes.maturity.signoff import SignOff, assess, check_promotion
    from engine.modes.maturity.signoff import promote as command
    from engine.modes.maturity.verdict import INCONCLUSIVE, PROMOTE
    from engine.ui.operator import has_terminal, operator_name
    from engine.ui.terminal_text import say

    rules, _source = load_policy(policy)
    before = assess(playbook, rules, None)
    check_promotion(before, to_level)
    say(render_one(before))
    verdict = before.next.verdict if before.next else PROMOTE
    if explain or verdict != PROMOTE:
        codes = {PROMOTE: ExitCode.OK, INCONCLUSIVE: ExitCode.INCONCLUSIVE}
        sys.exit(codes.get(verdict, ExitCode.REFUSED))
    if not assume_yes and not has_terminal():
        raise RefusedError(
            "a promotion is a sign-off: confirm it at a terminal", "or pass --yes to sign off"
        )

    def confirm() -> bool:
        question = f"promote {before.playbook} {before.version} to level {to_level}?"
        return assume_yes or click.confirm(question, default=False, err=True)

    request = SignOff(playbook, to_level, operator_name())
    done = command(request, before, confirm, rules)
    click.echo(f"promoted to level {to_level}: sign-off {done.change_id}", err=True)


@click.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to_level", type=click.IntRange(1, 3), required=True, help="The level.")
@click.option("--reason", required=True, help="Why, recorded with the demotion.")
def demote(playbook: str, to_level: int, reason: str) -> None:
    """Lower PLAYBOOK's declared level (written into the file) and record who and why."""
    from engine.modes.maturity.policy import load_policy
    from engine.modes.maturity.signoff import SignOff, assess
    from engine.modes.maturity.signoff import demote as command
    from engine.ui.operator import operator_name

    rules, _source = load_policy(None)
    before = assess(playbook, rules, None)
    done = command(SignOff(playbook, to_level, operator_name(), reason=reason), before)
    click.echo(f"demoted to level {to_level}: record {done.change_id}", err=True)
