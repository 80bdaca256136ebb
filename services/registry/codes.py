"""The code systems of the registry messages, beside the labels the desk stores (services/clinic/administration.py
SITES and ROUTES): route NCIT, site HL7 table 0163, funding eligibility HL7 table 0064, funding source CDCPHINVS."""
from __future__ import annotations

# RXR-1: the desk's route label -> (NCIT code, name).
ROUTE = {
    'Intramuscular (IM)': ('C28161', 'Intramuscular'),
    'Subcutaneous (SC)': ('C38299', 'Subcutaneous'),
}
# RXR-2: the desk's site label -> (HL70163 code, name).
SITE = {
    'Left deltoid': ('LD', 'Left Deltoid'),
    'Right deltoid': ('RD', 'Right Deltoid'),
    'Left thigh': ('LT', 'Left Thigh'),
    'Right thigh': ('RT', 'Right Thigh'),
}
# OBX 64994-7: vaccine funding program eligibility (HL70064).
FUNDING_ELIGIBILITY = {
    'V01': 'Not VFC eligible',
    'V02': 'VFC eligible - Medicaid/Medicaid Managed Care',
    'V03': 'VFC eligible - Uninsured',
    'V04': 'VFC eligible - American Indian/Alaskan Native',
    'V05': 'VFC eligible - Federally Qualified Health Center Patient (under-insured)',
}
DEFAULT_FUNDING_ELIGIBILITY = 'V01'
# OBX 30963-3: COVID-19 vaccine was bought by the federal government.
FUNDING_SOURCE = ('VXC50', 'Public')
# RXA-9: new record (given here) or historical (written on paper, entered later).
NEW_RECORD = ('00', 'New immunization record')
HISTORICAL_RECORD = ('01', 'Historical information - source unspecified')
