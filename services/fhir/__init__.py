"""FHIR R4 for other systems: the read API (Patient, Immunization, CapabilityStatement) with bearer tokens, and the
SMART Health Card of the proof of vaccination. Resources are built in one place (resources.py) for both."""
