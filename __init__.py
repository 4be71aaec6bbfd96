"""The checkout's root folder. With a clone named `edgepose`, `import edgepose` run from the folder that holds
it (or with that folder on PYTHONPATH) finds this folder first; without this file Python would take it for an
empty namespace package and hide the installed one. It loads the real package, `edgepose/` below."""
import os as _os

__file__ = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "edgepose", "__init__.py")
__path__ = [_os.path.dirname(__file__)]
with open(__file__, encoding="utf-8") as _source:
    exec(compile(_source.read(), __file__, "exec"))
