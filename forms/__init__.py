"""Guided forms: a generic engine; each form and each eligibility rule is data."""
