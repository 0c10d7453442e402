"""What the notification module gives the rest of the platform (fangkong.lib.registry):
the sink that turns raised alerts into inbox messages, e-mail and webhooks."""
from fangkong.lib import registry

from .actions import alert_sink

registry.register_alert_sink(alert_sink)
