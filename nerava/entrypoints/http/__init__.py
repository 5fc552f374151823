"""The HTTP API: ``create_app`` in ``app``, the edge, routes, bodies and answers.

This package's ``__init__`` stays empty of imports: the workers import its
``metrics`` module without loading the web framework's app.
"""
