"""`qms sync`: the process beside each hall server that ships the hall's event log to the
province's central server and brings the site's configuration bundles down.

- `sync.settings`: sync.toml (central URL, site token, batch size, intervals);
- `sync.state`: the acknowledged position, kept in a state file (atomic writes), so a
  killed process resumes where the centre stands;
- `sync.shipper`: the loop: read events after the acknowledged seq through the hall's
  outbox (`server.storage.outbox`, its own read-only connection), send batches, back off
  on failure, report lag;
- `sync.bundles`: apply the site's configuration and the province's catalogue through the
  hall's admin service (audited, validated), keeping the last one when the centre is away.
"""
