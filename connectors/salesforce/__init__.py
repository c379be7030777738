"""The Salesforce connector: login, describe validation and a Bulk API 2.0 writer."""
