"""Game days: inject a fault, watch the SLI detect it, remediate, revert, and report."""
