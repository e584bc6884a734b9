"""minifm: foundation models built from scratch in NumPy, to learn from."""
