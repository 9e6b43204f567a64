"""sipgate: numbers, extensions, DND, balance and SMS of a customer account."""
