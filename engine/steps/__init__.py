"""Step types: one module per YAML step key, each implementing the StepType protocol of
`base`, listed in `registry`. The run core asks a step type; it never tests type names."""
