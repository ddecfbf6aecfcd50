"""Benchmarks through the router's stores and through running routers."""
