"""The modes a run is recorded with: what made it (`runbook runs --mode` filters on them)."""

from __future__ import annotations

# live: `runbook run`; drill: a drill and its inject, remediate and declared revert
# runs; rollback: `runbook rollback` (also a drill's revert made of its inject's undos);
# hook: a run an alert started (`runbook serve`); guided: a level-1 run at a terminal;
# tabletop: `runbook tabletop`, a walk-through that executes nothing. dry-run is known to
# the ledger; no verb records it yet.
RUN_MODES = ("live", "drill", "rollback", "hook", "dry-run", "guided", "tabletop")
