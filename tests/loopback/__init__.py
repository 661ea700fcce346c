"""Loopback HTTPS stand-ins for the Azure services, driven by the real SDK clients in tests."""
