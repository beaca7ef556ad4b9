"""Subcommands of the ``riskstream`` CLI, one module each (see riskstream.cli)."""
