"""Where service-account tokens come from: a key file, the metadata server,
IAM Credentials impersonation, and the caller credentials it needs."""
