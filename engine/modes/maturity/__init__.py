"""Maturity on evidence: what the ledger proves of a playbook's content (`evidence`),
the rules a level asks for (`policy`), the verdict (`verdict`), the board
(`runbook maturity`) and the sign-offs (`runbook promote`, `runbook demote`)."""
