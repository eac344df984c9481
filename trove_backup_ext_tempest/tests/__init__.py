"""Tests of the tempest plugin."""
