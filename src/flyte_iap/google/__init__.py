"""Google's side: endpoints, credential files, and the wire calls of each credential kind.

``endpoints`` and ``files`` are light (the fast path reads them); the rest
import the HTTP stack and google-auth.
"""
