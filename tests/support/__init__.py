"""Helpers shared by the tests: brokers, proxies, collectors, bundles, fault set-ups."""
