"""The audit log: security events, each appended in the transaction of what it records."""
