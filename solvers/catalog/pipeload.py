"""Family pipeload: registrations (filled in by the family's issue)."""
