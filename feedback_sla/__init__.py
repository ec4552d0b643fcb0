"""feedback-sla: makes hiring managers answer candidates on time."""

from feedback_sla.app import create_app, create_data_app

__all__ = ["create_app", "create_data_app"]
