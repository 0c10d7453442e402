"""The catalogue the seeds name (000, 001, 002, 004), shipped with the app (migration 0002):
(code, name, base unit, category, [(package, base units per package)])."""

CATALOGUE = [
    ("masks", "口罩", "个", "防护", [("盒", 50), ("箱", 2000)]),
    ("thermometers", "体温枪", "个", "检测", []),
    ("gloves", "手套", "副", "防护", [("盒", 100)]),
    ("sprayers", "喷雾器", "台", "消杀", []),
    ("disinfectant", "消毒液", "斤", "消杀", [("桶", 20)]),
    ("disinfectant_powder", "消毒粉", "斤", "消杀", [("袋", 50)]),
    ("suits", "防护服", "套", "防护", [("箱", 20)]),
    ("goggles", "护目镜", "副", "防护", []),
    ("alcohol", "酒精", "升", "消杀", [("桶", 5)]),
    ("gel", "免洗洗手液", "瓶", "消杀", [("箱", 24)]),
    ("warmers", "暖宝宝", "片", "生活", [("盒", 10)]),
    ("necessities", "生活用品包", "份", "生活", []),
]


def install(Item, Package) -> None:
    for order, (code, name, unit, category, packages) in enumerate(CATALOGUE):
        item, _created = Item.objects.get_or_create(code=code, defaults={
            "name": name, "unit": unit, "category": category, "order": order * 10})
        for pname, size in packages:
            Package.objects.get_or_create(item=item, name=pname, defaults={"size": size})
