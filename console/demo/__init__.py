"""The demo hall and `hallwatch demo`."""
