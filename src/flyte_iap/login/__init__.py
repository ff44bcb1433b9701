"""The browser login of a person: PKCE, the loopback redirect server, the browser and
the terminal. It ends with an authorization code, which the caller's callback exchanges
(Google's side) while the browser tab waits to show how that went."""
