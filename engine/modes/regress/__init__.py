"""Regression cases: a recorded run or drill turned into a case file (`runbook
regress`), run again as a drill (`runbook drill --case`) or checked without side effects
(`runbook drill --case --dry-run`)."""
