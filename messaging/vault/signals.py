"""What the vault announces to the packages above it, so the vault never imports them.

``key_activated`` is sent after a new API key's activation commits, with the provider and
the key's hint; messaging.alerts clears the provider's key-age alert.
"""

from django.dispatch import Signal

key_activated = Signal()
