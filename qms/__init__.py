"""The `qms` command: the composition root. It wires the components together (which
blueprints the server app registers, which subcommand starts which process); nothing
imports it."""
