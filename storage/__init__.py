"""Persistence: the sqlmodel engine and every table, in one place."""
