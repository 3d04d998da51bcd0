"""The registry: the pluggy manager, lazy entries, the task index."""
