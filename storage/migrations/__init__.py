"""The alembic environment (env.py, script.py.mako, versions/), shipped inside the package so
that an installed policybot can migrate its database; storage.migrate configures and runs it."""
