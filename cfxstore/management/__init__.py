"""Services for management-realm data: users, organizations, management realms, nodes,
application realms, roles, permissions, principals and clusters, with integrity,
a WAMP-safe record form and a store-backed authorizer."""

from cfxstore.management.errors import AlreadyExists, InUse, InvalidArgument, ManagementError, NotAuthorized, NotFound
from cfxstore.management.service import Management
from cfxstore.management.store import Collection, Page

__all__ = ["Management", "Collection", "Page", "ManagementError", "InvalidArgument", "NotFound", "AlreadyExists",
           "InUse", "NotAuthorized"]
