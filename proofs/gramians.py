"""Theorems on Gramians, Hankel singular values and eigenvalue parametrizations (THEORY §1-§2)."""
