"""Task configuration: the YAML schema (pydantic), `include:`, `--set`, one-line errors. Imports only `util`."""
