"""Webhook requests, pure: Standard Webhooks signing, and the chat robots' message formats and signing."""
