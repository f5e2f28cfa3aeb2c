"""Microsoft Graph access: credentials, the raw-JSON client, the request plans, the
relationship derivations and Test Connection."""
