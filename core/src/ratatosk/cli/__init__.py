"""The ``ratatosk`` command line (``ratatosk = ratatosk.cli:main``).

``_main`` builds the command registry (every command comes through the
``ratatosk_register_commands`` hook, the built-in ones too) and runs it; ``_send`` holds
``ratatosk send`` and ``ratatosk status``, loaded when they run.
"""

from ._main import BuiltinCommands, CommandRegistry, Section, UsageError, main, render

__all__ = ["BuiltinCommands", "CommandRegistry", "Section", "UsageError", "main", "render"]
