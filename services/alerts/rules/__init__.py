"""Pure alert rules: what raises an alert, how severe, its de-dup key, and the SLA timer plan."""
