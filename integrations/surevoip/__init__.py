"""SureVoIP: partner customer accounts and UK numbers."""
