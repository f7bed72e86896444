"""Family workflow: registrations (filled in by the family's issue)."""
