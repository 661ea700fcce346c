"""backup-events: tells on-call staff, once and with the fix in hand, that an Azure Backup job failed."""
