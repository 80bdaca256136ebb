"""One module per screen or route group. Importing a module registers its routes."""
