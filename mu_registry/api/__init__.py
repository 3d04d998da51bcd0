"""The plugin contract: Method and Model (classification and generative), Metric, Judge, Router, contexts,
Split, Batch, TaskSpec, hook markers. Plugins import these through the `mu_registry` facade."""
