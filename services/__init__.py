"""Domain logic: validation, permissions, accounts, mail, imports. No NiceGUI imports here."""
