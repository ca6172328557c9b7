"""Triage: sort large piles of messages (spam, sentiment, themes), correct, retrain, export."""

__version__ = "0.1.0"
