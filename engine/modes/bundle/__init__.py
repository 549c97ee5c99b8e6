"""Replay bundles: a run's record as one checksummed archive (`runbook export`), and the
recorded run judged again against today's playbook and engine (`runbook replay`)."""
