"""Scoring saved models: their test clips, metrics, plots, cost, tables, and the paper's numbers."""
