"""Playbooks: load YAML with positions, check it, build the frozen model."""
