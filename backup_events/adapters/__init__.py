"""Adapters: the ports of ``backup_events.ports`` implemented on Azure SDKs (or local files).

Modules here import heavy SDKs at module level, so import each one where it is first used, never from here.
"""
