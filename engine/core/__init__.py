"""Small pieces every layer uses, depending on nothing else of the engine: errors and exit
codes, outcomes, findings, durations, signals, private files, output cuts and the POSIX
shell tokenizer."""
