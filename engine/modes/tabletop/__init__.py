"""`runbook tabletop PLAYBOOK`: a walk-through of a playbook at a terminal that executes
nothing; the participants' answers, gaps and findings go to the ledger and a report."""
