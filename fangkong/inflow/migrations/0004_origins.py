"""The provincial-level origins (risk none until an administrator sets it), so that a new
installation can take applications at once; cities and districts are added as needed."""
from django.db import migrations

PROVINCES = [
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省", "上海市", "江苏省", "浙江省",
    "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市",
    "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区", "台湾省", "境外",
]


def forwards(apps, schema_editor):
    Origin = apps.get_model("inflow", "Origin")
    for name in PROVINCES:
        Origin.objects.get_or_create(name=name, defaults={"risk": "none"})


class Migration(migrations.Migration):
    dependencies = [("inflow", "0003_deadlines")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
