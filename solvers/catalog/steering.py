"""Family steering: registrations (filled in by the family's issue)."""
