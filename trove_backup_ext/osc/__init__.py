"""The OpenStackClient plugin: what python-troveclient's commands lack."""
