"""Reports: the one fold of the event log into ticket journeys (`fold`), the report engine
(`engine`) with its exact figures (`figures`) and aggregates (`stats`), the report writer
that keeps the derived data up to date outside requests (`refresher`), and exports
(`exports`)."""
