"""Where things live: settings, the SQLAlchemy schema, sessions and queries."""
