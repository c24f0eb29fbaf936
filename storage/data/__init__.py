"""Data files the team updates: key rates, moratoria."""
