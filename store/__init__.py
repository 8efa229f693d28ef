"""The store: models, engine, repository functions, settings and errors."""
