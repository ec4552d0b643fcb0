"""The metrics page: response-time figures and charts for a period, per manager or position."""
