"""The `cti-ivr` Stasis application: a data dip that hands the call back to the dialplan."""
