"""What a person sees and answers: the plain and JSON event displays, the live table, the
operator prompts, and text made safe for a terminal."""
