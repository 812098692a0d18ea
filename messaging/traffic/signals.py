"""What traffic announces to the packages above it, so traffic never imports them.

``errors_recorded`` is sent once per committed write of error events (never inside the
transaction: a listener sees rows that exist). messaging.alerts listens to open money, plan
and key alerts at once; the arguments are the provider, the normalized errors and the
``ErrorEvent.Source`` they came from.
"""

from django.dispatch import Signal

errors_recorded = Signal()
