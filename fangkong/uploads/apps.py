from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "fangkong.uploads"
    label = "uploads"

    def ready(self):
        from . import models  # noqa: F401  connects the receiver that removes a deleted attachment's files
