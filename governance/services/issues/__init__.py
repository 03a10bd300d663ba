"""An issue's life: the lifecycle (filing, transitions, escalation, callbacks), the SLA sweep, residents'
rating links, the reference data every database starts with, the issue list and the filing form's places."""
