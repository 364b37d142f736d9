"""The schema revisions, in order: 0001_baseline is the schema create_all used to make."""
