"""The standard epidemiological questionnaire of seed 003 (the grid worker's checklist):
been to the source area? contact with people from there or with confirmed patients? large
gatherings or crowded closed places? Shipped by the data migration; `install` takes the
model classes so that the migration can pass its historical models."""
from __future__ import annotations

from decimal import Decimal

KEY = "standard"
NAME = "入户摸排标准问卷"

# (key, text, kind, required, choices, risk_values, risk_at_least)
QUESTIONS = [
    ("source_area", "是否去过疫源地？", "yesno", True, [], ["yes"], None),
    ("contact_source", "是否与去过疫源地的人有过接触？", "yesno", True, [], ["yes"], None),
    ("contact_confirmed", "是否与确诊患者有过接触？", "yesno", True, [], ["yes"], None),
    ("gathering", "是否参加过大型聚会或到过人群拥挤的密闭场所？", "yesno", True, [], ["yes"], None),
    ("temperature", "体温（°C）", "temperature", False, [], [], Decimal("37.3")),
    ("note", "其他情况", "text", False, [], [], None),
]


def install(Questionnaire, Question):
    """Create the standard questionnaire once (idempotent); return it."""
    q, created = Questionnaire.objects.get_or_create(key=KEY, defaults={"name": NAME})
    if created:
        for i, (key, text, kind, required, choices, risk_values, risk_at_least) in enumerate(QUESTIONS):
            Question.objects.create(questionnaire=q, order=i, key=key, text=text, kind=kind, required=required,
                                    choices=choices, risk_values=risk_values, risk_at_least=risk_at_least)
    return q


def standard():
    from .models import Question, Questionnaire

    return install(Questionnaire, Question)
