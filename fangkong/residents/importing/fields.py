"""What a resident list has: its fields, the headers that name them, and the words of
the tenure column."""
from __future__ import annotations

from django.utils.translation import gettext_lazy

from fangkong.lib.sheets import Columns, SheetError

ImportFileError = SheetError  # the file as a whole cannot be imported (empty, unreadable, no required column)

MAX_CELL = 1000  # characters; longer cells are refused (no field needs more)
BATCH = 20000  # rows per transaction

FIELDS = {
    "name": gettext_lazy("Name"),
    "id_number": gettext_lazy("ID number"),
    "phone": gettext_lazy("Phone"),
    "address": gettext_lazy("Address"),
    "sex": gettext_lazy("Sex"),
    "birth_date": gettext_lazy("Birth date"),
    "place": gettext_lazy("Grid / building"),
    "tenure": gettext_lazy("Tenure"),
    "employer": gettext_lazy("Employer"),
    "tags": gettext_lazy("Tags"),
    "note": gettext_lazy("Note"),
}
REQUIRED = ("name", "id_number")

HEADER_ALIASES = {
    "name": ["姓名", "名字", "居民姓名", "name"],
    "id_number": ["身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证", "idnumber", "id_number", "id"],
    "phone": ["联系电话", "手机号", "手机号码", "电话", "联系方式", "电话号码", "phone", "mobile"],
    "address": ["住址", "地址", "家庭住址", "现住址", "居住地址", "现居住地址", "address"],
    "sex": ["性别", "sex", "gender"],
    "birth_date": ["出生日期", "出生年月", "出生年月日", "birthdate", "birth_date"],
    "place": ["网格", "所属网格", "楼栋", "网格编号", "place", "grid"],
    "tenure": ["房屋性质", "住房性质", "自有租住", "居住性质", "tenure"],
    "employer": ["工作单位", "单位", "所在单位", "employer"],
    "tags": ["人员类别", "人员类型", "标签", "类别", "tags"],
    "note": ["备注", "note", "remark"],
}
COLUMNS = Columns(FIELDS, HEADER_ALIASES, REQUIRED)
auto_mapping = COLUMNS.auto_mapping
check_mapping = COLUMNS.check_mapping

TENURE_WORDS = {
    "自有": "owned", "自住": "owned", "自购": "owned", "owned": "owned",
    "租住": "rented", "出租": "rented", "租赁": "rented", "租房": "rented", "rented": "rented",
    "其他": "other", "other": "other",
}
