"""Google's side: endpoints, credential files, and the wire calls of each credential kind.

``adc`` and ``source`` are light (the fast path reads them), and so is ``endpoints``;
the rest import the HTTP stack and google-auth.
"""
