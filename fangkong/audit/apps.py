from fangkong.lib import apps


class AuditConfig(apps.FangkongConfig):
    name = "fangkong.audit"
    label = "audit"
