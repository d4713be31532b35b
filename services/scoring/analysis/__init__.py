"""The analysts' corner: the `pulse clv` command, its transaction file reader, the holdout table
and chart. It alone imports polars and matplotlib, so they stay out of the service's start-up."""
