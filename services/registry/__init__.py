"""Immunization registry reporting (HL7 v2.5.1 VXU, CDC Implementation Guide release 1.5, NIST Z22 profile)."""
