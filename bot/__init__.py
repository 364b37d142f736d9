"""policybot: the WeChat channel, HTTP API, dialog router and command line."""
