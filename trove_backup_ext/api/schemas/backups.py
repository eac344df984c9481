"""JSON Schemas of the backups requests."""


def full_match(regex):
    r"""A "pattern" that the whole string must match.

    python-jsonschema applies a pattern with re.search, and in Python "$"
    also matches before a final newline: "^[0-9]+$" takes "5\n". \A and
    \Z are Python's anchors for the very start and end of the string;
    these schemas are only read by python-jsonschema. Every pattern here
    is written with this function (a unit test checks), so none is a
    search by accident.
    """
    return r'\A(?:%s)\Z' % regex


UUID_PATTERN = full_match('[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                          '[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')

uuid = {'type': 'string', 'pattern': UUID_PATTERN,
        'x-message': 'is not a UUID'}

# Trove's "non_empty_string": 1-255 characters with a letter or digit
# somewhere (Trove's pattern is "^.*[0-9a-zA-Z]+.*$"). Control characters,
# line breaks included, are refused for every string by
# api/validation.py, before any pattern.
non_empty_string = {
    'type': 'string', 'minLength': 1, 'maxLength': 255,
    'pattern': full_match('.*[0-9a-zA-Z].*'),
    'x-message': 'must be 1 to 255 characters with at least one letter or '
                 'digit',
}

create_request_body = {
    'type': 'object',
    'properties': {
        'backup': {
            'type': 'object',
            'properties': {
                'name': non_empty_string,
                'description': non_empty_string,
                'instance': uuid,
                'parent_id': uuid,
                # Trove's clients always send 0 or 1, never a JSON boolean.
                'incremental': {'type': 'integer', 'enum': [0, 1],
                                'x-message': 'must be the integer 0 or 1'},
                # Swift: at most 256 bytes, no "/".
                'swift_container': {
                    'type': 'string', 'minLength': 1, 'maxLength': 256,
                    # "." and ".." name no container a store can make.
                    'pattern': full_match(
                        '(?!\\.{1,2}\\Z)[^/\\x00-\\x1f\\x7f-\\x9f]+'),
                    'x-message': 'is not a valid Swift container name (1 to '
                                 '256 characters, no "/" or control '
                                 'characters, not "." or "..")'},
                'storage_driver': {'type': 'string', 'minLength': 1,
                                   'maxLength': 255},
                'restore_from': {
                    'not': {},
                    'x-message': 'is not supported: this service backs up '
                                 'instances it can reach; importing a '
                                 'backup from a remote location is not '
                                 'offered'},
            },
            'required': ['name', 'instance'],
            'additionalProperties': False,
        },
    },
    'required': ['backup'],
    'additionalProperties': False,
}

list_request_query = {
    'type': 'object',
    'properties': {
        # Any size: a limit over backups_max_page_size is capped, not an
        # error. The length bound keeps int() cheap.
        'limit': {'type': 'string', 'pattern': full_match('[0-9]+'),
                  'maxLength': 64,
                  'x-message': 'is not a positive integer of at most 64 '
                               'digits'},
        'marker': {'type': 'string', 'minLength': 1, 'maxLength': 256},
        'datastore': {'type': 'string', 'minLength': 1, 'maxLength': 64},
        'instance_id': uuid,
        'all_projects': {
            'type': 'string',
            'pattern': full_match(
                '(?i:1|0|t|f|true|false|y|n|yes|no|on|off)'),
            'x-message': 'is not a boolean (true or false)'},
        'project_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    },
    'additionalProperties': False,
}

# POST /backups/{id}/verify: no options yet; an empty body or {}.
verify_request_body = {
    'type': 'object',
    'properties': {},
    'additionalProperties': False,
}
