"""Alerts in: Alertmanager's webhook body, which playbooks its alerts trigger, and the
inputs and template variables an alert gives a run."""
