"""Admin pages (/admin): configuration, catalogue, users and devices, and their API."""
