"""The state help desk: cases (cases.py), the support portal accounts, and the knowledge base."""
