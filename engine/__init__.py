"""runbook-engine: declarative runbook automation with reversible steps."""

__version__ = "0.1.0"
