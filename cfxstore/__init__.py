"""cfxstore: durable storage for WAMP routers and the services around them."""

__version__ = "0.1.0"
