"""The browser login of a person: PKCE, the loopback redirect server, the browser and
the terminal. It ends with an authorization code; exchanging it is Google's side."""
