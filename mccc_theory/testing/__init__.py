"""Reusable testing tools: Hypothesis strategies, settings profiles and independent oracles."""
