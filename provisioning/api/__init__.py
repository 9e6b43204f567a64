"""The reseller REST API (/api/v1/): thin views and serializers over the services."""
