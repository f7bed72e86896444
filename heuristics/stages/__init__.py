"""F3 online provisioning policies (window by window, from past arrivals only)."""
