"""The base of the resource controllers: 405s that name the right
methods."""

from pecan import rest


class ResourceController(rest.RestController):
    """A pecan RestController whose put() refuses with the Allow header of
    the path it is given (every resource here defines one so)."""

    def _handle_unknown_method(self, method, remainder, request=None):
        # OPTIONS, TRACE, CONNECT, HEAD and (where none is defined) PATCH:
        # pecan would answer 405 with an Allow naming every method the
        # class defines, PUT included, which is itself refused. Answer as
        # put() does instead. (Methods outside HTTP's never get here:
        # api/body_guard.py.)
        if method == 'patch' and self._find_controller('patch'):
            return self._find_controller('patch'), remainder
        return self.put, remainder
