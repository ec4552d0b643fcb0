# Copy to instance/config.py and adjust. Every key can also be set as an environment variable
# prefixed with FEEDBACK_SLA_ (for example FEEDBACK_SLA_DATABASE_URL), which wins over this file.

# A long random value, the same for every worker: python -c "import secrets; print(secrets.token_hex(32))"
# SECRET_KEY = "..."

# PostgreSQL in production (psycopg 3); the default is SQLite in this folder.
# DATABASE_URL = "postgresql://feedback:password@db.example.com/feedback_sla"
