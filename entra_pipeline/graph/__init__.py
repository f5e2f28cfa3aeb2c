"""The pull: Microsoft Graph access (credentials, the raw-JSON client, the request plans, delta
rounds, relationship derivations, Test Connection), one pull of a tenant (collect.py) and its
delta rounds applied to the committed snapshot (snapshot.py)."""
