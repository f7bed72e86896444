"""Family stages: registrations (filled in by the family's issue)."""
