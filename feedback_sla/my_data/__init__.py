"""A candidate's own data on request ("Download my data", GDPR Articles 15 and 20)."""
