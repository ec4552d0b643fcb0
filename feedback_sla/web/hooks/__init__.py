"""ATS webhooks: ``POST /hooks/<kind>/<public_id>``, signed by the vendor, no session, no CSRF token."""
