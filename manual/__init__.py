"""The hand-derived backend: the tutorial's formulas, line for line, in NumPy. No autodiff."""
