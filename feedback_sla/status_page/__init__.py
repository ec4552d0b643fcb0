"""The candidate's status page: private links carried by candidate emails, and what a candidate
may do there (ask for news, withdraw)."""
