"""Where mutable state lives: SQLite files in data_dir by default, one Postgres database when
``database_url`` is set (so that several replicas share conversations, tickets and orders)."""
