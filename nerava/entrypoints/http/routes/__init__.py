"""The API's routes, one module per resource; each builds its handlers
around the services they call.
"""
