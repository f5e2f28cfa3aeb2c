"""Microsoft Entra ID -> Qualys CSAM/ETM identity connector."""
