"""Where records go: the Destination protocol and its report (protocol.py), delivery of a run's
record sets (deliver.py), the local inventory (local.py, the embedded default) and Qualys CSAM
(qualys/)."""
