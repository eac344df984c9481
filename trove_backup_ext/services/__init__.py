"""The domain services: what the API does to each resource, apart from
HTTP (check, write, cast), and the rules they share."""
