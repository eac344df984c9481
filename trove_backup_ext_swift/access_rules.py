"""Keystone access rules, enforced on every request Swift authorizes.

keystonemiddleware's ``auth_token`` checks the access rules of an
application credential's token against the one request it sees. Swift's
middlewares then make requests of their own for the caller (sub-requests)
that only ``keystoneauth`` judges, and it judges by role: ``dlo`` and ``slo``
read the segments a manifest names, ``symlink`` reads a link's target,
``copy`` its source, ``bulk`` writes an archive's members. So a token
limited to one backup's objects could write a manifest naming any object of
the account and read that object through it.

This filter goes right after ``keystoneauth``. For a token whose
application credential has access rules, it wraps the ``swift.authorize``
callback that ``keystoneauth`` leaves in the environment, and that Swift
copies into every sub-request, so that each request Swift authorizes for
that token, the caller's own and every sub-request, must match one of the
rules (as ``auth_token`` matches them) before ``keystoneauth`` is asked.
Other tokens are left alone::

    [pipeline:main]
    pipeline = ... authtoken keystoneauth access_rules ... copy slo dlo ...

    [filter:access_rules]
    use = egg:trove-backup-ext#swift_access_rules

Unlike ``auth_token``, it applies the rules also when the request carries
an ``X-Service-Token``: nothing of this service sends one with a restricted
token, and a sub-request is never a service's.

It imports Swift only when Swift loads it, and nothing of trove_backup_ext.
"""

import re
from urllib import parse

SERVICE_TYPE = 'object-store'
# The name under which the filter lists itself in the proxy's /info.
INFO_NAME = 'trove_backup_access_rules'
# The characters webob leaves unquoted in Request.path, the form of the
# path auth_token matches access rules against (and app_credentials
# writes their paths in).
PATH_SAFE = "/~!$&'()*+,;=:@"
# An access rule path's parts, as Keystone defines them: {tag} and * match
# one path segment, ** any number of them, anything else itself.
_PART = re.compile(r'(?P<tag>{[^}]*})|(?P<one>\*(?=$|[^*]))|'
                   r'(?P<any>\*\*)|(?P<literal>[^{}*])')


def path_pattern(rule_path):
    """The compiled regular expression of an access rule's path."""
    regex = ''
    for part in _PART.finditer(rule_path):
        if part.group('tag') or part.group('one'):
            regex += r'[^/]+'
        elif part.group('any'):
            regex += '.*'
        else:
            # Escaped: auth_token reads a '.' or '+' of a container's name
            # as a regular expression; here it stands for itself.
            regex += re.escape(part.group('literal'))
    return re.compile(regex, re.DOTALL)


def request_path(environ):
    """The request's path as auth_token sees it (webob's Request.path)."""
    raw = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    # WSGI carries the path's bytes as latin-1 text.
    return parse.quote(raw.encode('latin-1'), safe=PATH_SAFE)


def access_rules(environ):
    """The access rules of the request's token, or None when it has none
    (not an application credential's token, or one without rules)."""
    token = (environ.get('keystone.token_info') or {}).get('token') or {}
    credential = token.get('application_credential') or {}
    return credential.get('access_rules')


def allows(rules, method, path, service_type=SERVICE_TYPE):
    """Whether one of rules lets method reach path on service_type."""
    return any(rule.get('service') == service_type
               and rule.get('method') == method
               and path_pattern(rule.get('path', '')).fullmatch(path)
               for rule in rules)


class AccessRulesEverywhere(object):
    """The WSGI filter: see the module's docstring."""

    def __init__(self, app, conf, deny):
        self.app = app
        self.service_type = conf.get('service_type', SERVICE_TYPE)
        # deny(request) -> the response that refuses it (Swift's 403).
        self.deny = deny

    def __call__(self, environ, start_response):
        rules = access_rules(environ)
        authorize = environ.get('swift.authorize')
        if rules is not None and authorize is not None:
            environ['swift.authorize'] = self._limited(rules, authorize)
        return self.app(environ, start_response)

    def _limited(self, rules, authorize):
        def limited_authorize(request):
            if not allows(rules, request.environ['REQUEST_METHOD'],
                          request_path(request.environ), self.service_type):
                return self.deny(request)
            return authorize(request)
        return limited_authorize


def filter_factory(global_conf, **local_conf):
    # Swift's modules exist only inside Swift's proxy, which is the one
    # place this factory runs.
    from swift.common import registry
    from swift.common import swob

    conf = dict(global_conf, **local_conf)
    # Listed in the proxy's /info, where trove-backup-status looks for it.
    registry.register_swift_info(INFO_NAME)

    def deny(request):
        return swob.HTTPForbidden(request=request)

    def access_rules_filter(app):
        return AccessRulesEverywhere(app, conf, deny)
    return access_rules_filter
