"""cfxstore: durable storage for WAMP routers and the services around them."""

from cfxstore.errors import Error

__version__ = "0.1.0"

__all__ = ["Error", "__version__"]
