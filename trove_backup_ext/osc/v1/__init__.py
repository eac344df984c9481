"""Commands of the plugin's API version 1."""
