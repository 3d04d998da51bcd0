"""A run: planning (refuses what cannot run, before training), the runner, sweeps."""
