"""Protocols: one request loop, and per task type what happens around it (classification, lifelong)."""
