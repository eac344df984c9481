"""The OpenAPI 3.1 document of the API, built from its request schemas.

Each operation's request body and query parameters are the very schemas
the controllers validate with (api/schemas), so the document cannot drift
from what the API accepts; the answers are described by
api/schemas/responses.py. Tests check the document against the live app
and the api-ref (trove_backup_ext/tests/functional/test_openapi.py).
Print it with ``trove-backup-manage openapi``.
"""

import collections
import copy
import re

from trove_backup_ext.api.controllers import root
from trove_backup_ext.api import faults
from trove_backup_ext.api.schemas import backup_schedules
from trove_backup_ext.api.schemas import backup_strategies
from trove_backup_ext.api.schemas import backups
from trove_backup_ext.api.schemas import instances
from trove_backup_ext.api.schemas import responses
from trove_backup_ext.api.schemas import restores

PROJECT = '/v1.0/{project_id}'

Operation = collections.namedtuple('Operation', (
    'method', 'path', 'operation_id', 'summary', 'query', 'body',
    'success', 'errors'))

_PAGE_ERRORS = (400, 401, 403)
_SHOW_ERRORS = (401, 403, 404, 405)
_BODY_ERRORS = (400, 401, 403, 404, 413, 415, 422, 503)

# Every operation the API serves, as the api-ref lists them. success is
# (code, name of the body in responses.BODIES or None for no body);
# errors are the codes the api-ref gives the operation.
OPERATIONS = (
    Operation('GET', '/', 'listVersions', 'List API versions', None, None,
              (200, 'Versions'), ()),
    Operation('GET', '/v1.0/', 'showVersion', 'Show API version v1.0',
              None, None, (200, 'Version'), ()),
    # Backups.
    Operation('GET', PROJECT + '/backups', 'listBackups', 'List backups',
              backups.list_request_query, None, (200, 'BackupList'),
              _PAGE_ERRORS + (404, 405, 503)),
    Operation('POST', PROJECT + '/backups', 'createBackup', 'Create backup',
              None, backups.create_request_body, (202, 'Backup'),
              _BODY_ERRORS),
    Operation('GET', PROJECT + '/backups/{backupId}', 'showBackup',
              'Show backup', None, None, (200, 'Backup'), _SHOW_ERRORS),
    Operation('DELETE', PROJECT + '/backups/{backupId}', 'deleteBackup',
              'Delete backup', None, None, (202, None),
              _SHOW_ERRORS + (422, 503)),
    Operation('POST', PROJECT + '/backups/{backupId}/verify', 'verifyBackup',
              'Verify backup', None, backups.verify_request_body,
              (202, 'Backup'), _BODY_ERRORS + (409,)),
    # Instances (read only) and their backups.
    Operation('GET', PROJECT + '/instances', 'listInstances',
              'List instances', instances.list_request_query, None,
              (200, 'InstanceList'), _PAGE_ERRORS + (405, 501)),
    Operation('GET', PROJECT + '/instances/{instanceId}', 'showInstance',
              'Show instance', instances.show_request_query, None,
              (200, 'Instance'), (400,) + _SHOW_ERRORS),
    Operation('GET', PROJECT + '/instances/{instanceId}/backups',
              'listInstanceBackups', 'List backups of an instance',
              instances.backups_request_query, None, (200, 'BackupList'),
              (400,) + _SHOW_ERRORS),
    # Backup strategies.
    Operation('POST', PROJECT + '/backup_strategies', 'createBackupStrategy',
              'Create or change backup strategy', None,
              backup_strategies.create_request_body, (202, 'BackupStrategy'),
              (400, 401, 403, 404, 405, 413, 415)),
    Operation('GET', PROJECT + '/backup_strategies', 'listBackupStrategies',
              'List backup strategies', backup_strategies.request_query,
              None, (200, 'BackupStrategyList'), _PAGE_ERRORS + (405,)),
    Operation('DELETE', PROJECT + '/backup_strategies',
              'deleteBackupStrategy', 'Delete backup strategy',
              backup_strategies.request_query, None, (202, None),
              _PAGE_ERRORS + (405,)),
    # Restores.
    Operation('POST', PROJECT + '/restores', 'createRestore',
              'Restore backup', None, restores.create_request_body,
              (202, 'Restore'), _BODY_ERRORS),
    Operation('POST', PROJECT + '/backups/{backupId}/restore',
              'restoreBackup', 'Restore backup (alias)', None,
              restores.backup_restore_request_body, (202, 'Restore'),
              _BODY_ERRORS),
    Operation('GET', PROJECT + '/restores', 'listRestores', 'List restores',
              restores.list_request_query, None, (200, 'RestoreList'),
              _PAGE_ERRORS + (405,)),
    Operation('GET', PROJECT + '/restores/{restoreId}', 'showRestore',
              'Show restore', None, None, (200, 'Restore'), _SHOW_ERRORS),
    # Backup schedules.
    Operation('POST', PROJECT + '/backup_schedules', 'createBackupSchedule',
              'Create backup schedule', None,
              backup_schedules.create_request_body, (201, 'BackupSchedule'),
              _BODY_ERRORS),
    Operation('GET', PROJECT + '/backup_schedules', 'listBackupSchedules',
              'List backup schedules', backup_schedules.list_request_query,
              None, (200, 'BackupScheduleList'), _PAGE_ERRORS),
    Operation('GET', PROJECT + '/backup_schedules/{scheduleId}',
              'showBackupSchedule', 'Show backup schedule', None, None,
              (200, 'BackupSchedule'), (401, 403, 404)),
    Operation('PATCH', PROJECT + '/backup_schedules/{scheduleId}',
              'updateBackupSchedule', 'Update backup schedule', None,
              backup_schedules.update_request_body, (200, 'BackupSchedule'),
              _BODY_ERRORS + (409,)),
    Operation('DELETE', PROJECT + '/backup_schedules/{scheduleId}',
              'deleteBackupSchedule', 'Delete backup schedule', None, None,
              (204, None), (401, 403, 404)),
    Operation('GET', PROJECT + '/backup_schedules/{scheduleId}/'
                               'retention_preview',
              'previewBackupScheduleRetention', 'Preview retention', None,
              None, (200, 'RetentionPreview'), (401, 403, 404)),
    Operation('GET', PROJECT + '/backup_schedules/health',
              'showBackupSchedulesHealth', 'Show schedules health',
              backup_schedules.health_request_query, None,
              (200, 'SchedulesHealth'), _PAGE_ERRORS + (405,)),
)

_PATH_PARAMETERS = {
    'project_id': 'The project that owns the resources: the caller\'s own '
                  'unless the caller is an administrator (403).',
    'backupId': 'The id (UUID) of the backup.',
    'instanceId': 'The id (UUID) of the instance.',
    'restoreId': 'The id (UUID) of the restore.',
    'scheduleId': 'The id (UUID) of the backup schedule.',
}

# Python's anchors for the whole string (schemas.backups.full_match) and
# the ECMA-262 ones an OpenAPI reader knows; without the "m" flag "$"
# matches only at the very end there.
_FULL_MATCH = re.compile(r'\A\\A\(\?:(.*)\)\\Z\Z', re.S)


# A group that ignores case, (?i:X), which ECMA-262 only learnt in 2025:
# written out letter by letter, [Tt][Rr][Uu][Ee].
_IGNORE_CASE = re.compile(r'\(\?i:([0-9A-Za-z|]*)\)')


def _both_cases(match):
    return '(?:%s)' % ''.join(
        '[%s%s]' % (char.upper(), char.lower()) if char.isalpha() else char
        for char in match.group(1))


def portable_pattern(pattern):
    """pattern as ECMA-262 reads it: \\A(?:X)\\Z becomes ^(?:X)$, and
    (?i:X) of letters and digits a group of both cases of each letter."""
    match = _FULL_MATCH.match(pattern)
    if match:
        pattern = '^(?:%s)$' % match.group(1)
    return _IGNORE_CASE.sub(_both_cases, pattern)


def _portable(schema):
    """A copy of a request schema with portable patterns."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get('pattern'), str):
                value['pattern'] = portable_pattern(value['pattern'])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return schema


def _parameters(operation):
    params = [{'name': name, 'in': 'path', 'required': True,
               'description': _PATH_PARAMETERS[name],
               'schema': {'type': 'string'}}
              for name in re.findall(r'{(\w+)}', operation.path)]
    if operation.query:
        for name, schema in sorted(operation.query['properties'].items()):
            params.append({'name': name, 'in': 'query', 'required': False,
                           'schema': _portable(schema)})
    return params


def error_codes(operation):
    """The error codes of operation: its own, and those any request may
    get. 400: a URL path or query string that is not UTF-8, a _method
    parameter, (noauth) a bad X-User-Id. 401: (keystone) no valid token,
    the version documents included (auth_token is in front of them). 404:
    a project in the URL that holds a character no string may hold. 413:
    a body too large, whatever the method."""
    codes = set(operation.errors) | {400, 401}
    if operation.path.startswith(PROJECT):
        codes.add(404)
    if operation.method != 'GET':
        codes.add(413)
    return sorted(codes)


def _fault_response(code):
    name = faults.fault_name(code)
    return {'description': 'Trove fault %s.' % name,
            'content': {'application/json': {
                'schema': {'$ref': '#/components/schemas/Fault_%s' % name}}}}


def _operation(operation):
    code, body = operation.success
    success = {'description': 'Success.'}
    if body:
        success['content'] = {'application/json': {
            'schema': {'$ref': '#/components/schemas/%s' % body}}}
    answers = {str(code): success}
    answers.update((str(error), _fault_response(error))
                   for error in error_codes(operation))
    doc = {'operationId': operation.operation_id,
           'summary': operation.summary,
           'tags': [operation.path.split('/')[3] if operation.path.startswith(
               PROJECT) else 'versions'],
           'parameters': _parameters(operation),
           'responses': answers}
    if operation.query:
        doc['description'] = ('Any other query parameter, or one given '
                              'twice, is a 400.')
    if operation.body is not None:
        doc['requestBody'] = {
            # Verify takes an empty body as well as {}.
            'required': bool(operation.body.get('required')),
            'content': {'application/json': {
                'schema': _portable(operation.body)}}}
    return doc


def document():
    """The OpenAPI 3.1 document of the API, as a dict."""
    paths = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = (
            _operation(operation))
    schemas = {name: _portable(body)
               for name, body in responses.BODIES.items()}
    for code in sorted(faults.FAULT_NAMES):
        name = faults.fault_name(code)
        schemas['Fault_%s' % name] = responses.fault(name)
    return {
        'openapi': '3.1.0',
        'info': {
            'title': 'trove-backup-ext Database Backups API',
            # The API's version, not the package's: the document changes
            # only when the API does.
            'version': root.VERSION[1:],
            'description': (
                'Trove\'s /v1.0/{project_id}/backups API and this '
                'service\'s restores, schedules and read-only instances. '
                'Every error has Trove\'s fault body '
                '{"<faultName>": {"code": N, "message": "..."}}. Generated '
                'from the schemas the API validates with; the api-ref '
                'says the rest.'),
        },
        'paths': paths,
        'components': {
            'schemas': schemas,
            'securitySchemes': {'keystone': {
                'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token',
                'description': 'A Keystone token (ignored with [api] '
                               'auth_strategy = noauth).'}},
        },
        'security': [{'keystone': []}],
    }
