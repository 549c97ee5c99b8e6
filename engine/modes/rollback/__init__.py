"""`runbook rollback RUN_ID`: undo a finished run's completed steps, after showing the plan."""
