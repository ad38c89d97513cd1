"""Plugins: the pluggy manager, lazy entry-point loading, the connector registry, introspection.

This layer sits below the connector machinery: it never imports it at run time (a registered
class is recognised by the ``__ratatosk_connector__`` marker every ``Connector`` carries).
"""

from ._manager import (
    ConnectorInfo,
    ConnectorRegistry,
    PluginLoadFailure,
    PluginSource,
    ProviderInfo,
    get_connector_class,
    get_plugin_manager,
    get_registry,
    list_failures,
    list_providers,
    plugin_sources,
    register_plugin,
    reset_plugin_manager,
    unregister_plugin,
)

__all__ = [
    "ConnectorInfo",
    "ConnectorRegistry",
    "PluginLoadFailure",
    "PluginSource",
    "ProviderInfo",
    "get_connector_class",
    "get_plugin_manager",
    "get_registry",
    "list_failures",
    "list_providers",
    "plugin_sources",
    "register_plugin",
    "reset_plugin_manager",
    "unregister_plugin",
]
