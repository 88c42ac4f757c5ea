"""Manager pages: reports and the live dashboard (/manager) and their API."""
