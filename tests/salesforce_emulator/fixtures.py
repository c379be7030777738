"""pytest fixtures that start the Salesforce emulator. OWNER: helper B1 (stub)."""
