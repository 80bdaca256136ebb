"""The Provider Enrollment Portal screens (services/enrollment)."""
