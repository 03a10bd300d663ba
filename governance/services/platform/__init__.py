"""What every feature stands on: the job outbox, notifications, photos, the audit log, throttling, health."""
