# Copy to instance/config.py and adjust. Every key can also be set as an environment variable
# prefixed with FEEDBACK_SLA_ (for example FEEDBACK_SLA_DATABASE_URL), which wins over this file.

# A long random value, the same for every worker: python -c "import secrets; print(secrets.token_hex(32))"
# SECRET_KEY = "..."

# PostgreSQL in production (psycopg 3); the default is SQLite in this folder.
# DATABASE_URL = "postgresql://feedback:password@db.example.com/feedback_sla"

# Candidate emails: who they come from, and the SMTP server that sends them. Without MAIL_SERVER,
# messages are written as .eml files under this folder (outbox-mail/) instead of being sent.
# ORGANISATION_NAME = "Acme"
# ORGANISATION_EMAIL = "jobs@acme.example"
# MAIL_SERVER = "smtp.example.com"
# MAIL_PORT = 587
# MAIL_USE_TLS = True
# MAIL_USERNAME = "jobs@acme.example"
# MAIL_PASSWORD: set FEEDBACK_SLA_MAIL_PASSWORD in the environment rather than here.

# The app's public address, for links in the daily digest.
# BASE_URL = "https://feedback.acme.example"

# Login throttling shared by every worker.
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379"
