"""Studies over many starts: random restarts."""
