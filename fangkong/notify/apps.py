from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "fangkong.notify"
    label = "notify"

    def ready(self):
        from fangkong.lib import registry

        from .actions import alert_sink

        registry.register_alert_sink(alert_sink)
