"""Widgets and page plumbing shared by several pages."""
