"""The checks: gradient check, trajectory check, their tolerances, the reference."""
