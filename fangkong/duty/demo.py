"""The duty module in the demo (called from core.demo.build_activity): the seeds' figures.

* rosters for the 141 grids (a responsible leader, a head, ten grid workers each);
* 189 teams: 9 party pioneer teams with 91 members over the 8 compounds (responsibility
  zones and model posts), the rest emergency squads, youth shock teams, household-head
  teams, owners' committee service teams, elders' supervision teams and volunteer teams;
* 31 sites (8 compound gates, 4 distribution points, 19 checkpoints) with 310 deployed
  cadres and volunteers sent by the units; each site's responsible person;
* a week of shifts (the story's days): the 4 distribution points × (2 cadres + 6
  volunteers) through the module's own actions at the time they claim (assignments,
  check-ins — a few late —, check-outs with work logs, daily health check-ins, one fever
  yesterday morning taking the person off and a replacement assigned); the other
  sites' shifts, check-ins and health check-ins written in bulk (the default build stays fast).
"""
from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from fangkong.places.actions import create_organization
from fangkong.places.models import Grant

from . import actions, queries
from .models import Assignment, Deployment, GridPosition, HealthCheck, Shift, Team, TeamKind, TeamMember

A = Assignment.State
TEAM_KINDS = [("party_pioneer", "党员先锋队"), ("emergency", "应急分队"), ("youth", "青年突击队"),
              ("household_heads", "户长队"), ("owners_committee", "业委会服务队"), ("elders", "老年监督队"),
              ("volunteer_service", "志愿服务队")]
SHIFTS = ((8 * 60, 14 * 60), (14 * 60, 20 * 60))


def build(rng, tree: dict, staff: dict, days: list, real_now: dt.datetime, *, kit) -> dict:
    _at, clock, synthetic_name = kit._at, kit.clock, kit.synthetic_name  # kit: fangkong.core.demo, passed in

    first = days[0]
    User = get_user_model()
    out = {}
    # --- Rosters and teams (bulk: thousands of rows, no story in them) -----------------------
    grid_workers = staff.get("grid_workers", {})
    positions = []
    for grid in tree["grids"]:
        positions.append(GridPosition(grid=grid, role="leader", name=synthetic_name(rng), place_path=grid.path, starts_on=first))
        positions.append(GridPosition(grid=grid, role="head", name=synthetic_name(rng), place_path=grid.path, starts_on=first))
        for n in range(10):
            user = grid_workers.get(grid.pk) if n == 0 else None
            positions.append(GridPosition(grid=grid, role="worker", user=user, place_path=grid.path, starts_on=first,
                                          name=(user.first_name if user else "") or synthetic_name(rng)))
    GridPosition.objects.bulk_create(positions, batch_size=1000)
    out["roster_positions"] = len(positions)
    kinds = {code: TeamKind.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in TEAM_KINDS}
    teams, members = [], []
    compounds = tree["compounds"]
    for n in range(9):  # 91 party members in 9 teams over the 8 compounds
        place = compounds[n % len(compounds)]
        teams.append(Team(kind=kinds["party_pioneer"], name=f"{place.name}党员先锋队{'二' if n >= 8 else '一'}队", place=place,
                          place_path=place.path, leader_name=synthetic_name(rng)))
    others = [k for k, _n in TEAM_KINDS if k != "party_pioneer"]
    for n in range(180):
        grid = tree["grids"][n % len(tree["grids"])]
        kind = others[n % len(others)]
        teams.append(Team(kind=kinds[kind], name=f"{grid.parent.name if hasattr(grid, 'parent') else ''}{grid.name}{kinds[kind].name}",
                          place=grid, place_path=grid.path, leader_name=synthetic_name(rng)))
    Team.objects.bulk_create(teams, batch_size=500)
    for i, team in enumerate(teams[:9]):
        for m in range(11 if i < 1 else 10):  # 11 + 8 × 10 = 91
            members.append(TeamMember(team=team, name=synthetic_name(rng), zone=f"{m % 6 + 1}号楼{m % 3 + 1}单元",
                                      model_post="党员示范岗" if m == 0 else ""))
    for team in teams[9:]:
        for _m in range(rng.randint(4, 8)):
            members.append(TeamMember(team=team, name=synthetic_name(rng)))
    TeamMember.objects.bulk_create(members, batch_size=1000)
    out["teams"] = len(teams)

    # --- Sites, responsible persons, 310 deployed ----------------------------------------------
    communities = tree["communities"]
    with clock(_at(first, 6 * 60 + 45)):
        sites = [create_organization(acting_user=None, kind="site", name=f"第{i + 1}分发点", code=f"DEMO-DP{i + 1}",
                                     place=communities[0], audit=False) for i in range(4)]
        sites += [create_organization(acting_user=None, kind="site", name=f"{c.name}门岗值守", code=f"DEMO-GD{i + 1}",
                                      place=c, audit=False) for i, c in enumerate(compounds)]
        sites += [create_organization(acting_user=None, kind="site", name=f"{communities[i % len(communities)].name}卡口{i + 1}",
                                      code=f"DEMO-CP{i + 1:02d}", place=communities[i % len(communities)], audit=False)
                  for i in range(19)]
    per_site = {s.pk: (8 if i < 4 else 10) for i, s in enumerate(sites)}  # 32 + 27 × 10 = 302, + 8 spread = 310
    for s in sites[4:12]:
        per_site[s.pk] += 1
    leads = User.objects.bulk_create([User(username=f"duty_lead_{s.code.lower()}", first_name=f"{s.name}负责人",
                                           password="!demo") for s in sites])
    Grant.objects.bulk_create([Grant(user=u, role="site_lead", organization=s) for u, s in zip(leads, sites)])
    people = User.objects.bulk_create([User(username=f"duty_{n:03d}", first_name=synthetic_name(rng), password="!demo")
                                       for n in range(sum(per_site.values()) - 1)])
    people.insert(2, staff["volunteer"])  # the demo volunteer serves at the first distribution point
    employers = tree["employers"]
    deployments, grants, k = [], [], 0
    crew: dict[int, list] = {}
    for si, site in enumerate(sites):
        crew[site.pk] = []
        for m in range(per_site[site.pk]):
            user = people[k]
            k += 1
            cadre = m < 2
            sender = employers[0] if si == 0 and cadre else employers[(si * 3 + m) % len(employers)]
            deployments.append(Deployment(
                user=user, site=site, sender=sender, kind="cadre" if cadre else "volunteer", starts_on=first,
                family_care=m == 5, health_limited=False, place_path=site.place_path,
                needs="家中老人需代购药品" if (si + m) % 37 == 0 else ""))
            if user.pk != staff["volunteer"].pk:
                grants.append(Grant(user=user, role="volunteer", organization=site))
            crew[site.pk].append(user)
    Deployment.objects.bulk_create(deployments, batch_size=500)
    Grant.objects.bulk_create(grants, batch_size=500)
    out["deployed"] = len(deployments)

    # --- The distribution points: the story, through the actions ----------------------------------
    lead_of = dict(zip([s.pk for s in sites], leads))
    fever_at = None
    for di, day in enumerate(days):
        for si, site in enumerate(sites[:4]):
            group = crew[site.pk]
            halves = (group[0:1] + group[2:5], group[1:2] + group[5:8])  # each group: a cadre and 3 volunteers
            if di % 2:
                halves = halves[::-1]
            plan_at = _at(day, 6 * 60 + 50) if di == 0 else _at(day - dt.timedelta(days=1), 18 * 60 + si)
            for hi, (start_m, end_m) in enumerate(SHIFTS):
                with clock(plan_at):
                    shift = actions.create_shift(acting_user=lead_of[site.pk], site=site, post="distribution",
                                                 post_name=site.name, group="一组" if hi == di % 2 else "二组",
                                                 starts_at=_at(day, start_m), ends_at=_at(day, end_m), slots=4)
                    for user in halves[hi]:
                        try:
                            actions.assign(acting_user=lead_of[site.pk], shift=shift, user=user)
                        except (actions.Invalid, actions.Conflict):
                            pass
        # Every morning each person of the points checks in their health; yesterday
        # one volunteer at the first point has a fever.
        for si, site in enumerate(sites[:4]):
            for m, user in enumerate(crew[site.pk]):
                moment = _at(day, 7 * 60 + rng.randint(0, 45))
                if moment > real_now or actions.is_unwell(user):
                    continue
                fever = di == len(days) - 2 and si == 0 and m == 3
                with clock(moment):
                    actions.health_checkin(acting_user=user, temperature="37.9" if fever else f"36.{rng.randint(2, 8)}",
                                           symptoms=["cough"] if fever else [], client_id=f"demo-h-{day}-{user.pk}")
                if fever:
                    fever_at = moment
                    for a in Assignment.objects.filter(user=user, removed_reason="health").select_related("shift"):
                        with clock(moment + dt.timedelta(minutes=12)):
                            for uid in queries.suggest(a.shift)[:1]:
                                actions.assign(acting_user=lead_of[site.pk], shift=a.shift, user=User.objects.get(pk=uid),
                                               how=Assignment.How.REPLACEMENT)
        # Check-ins on arrival (a few late), check-outs before leaving with a work log.
        for a in Assignment.objects.filter(site__in=sites[:4], shift__starts_at__date=day, state=A.ASSIGNED).select_related(
                "shift").order_by("shift__starts_at", "pk"):
            arrive = a.shift.starts_at + dt.timedelta(minutes=rng.choice([-12, -9, -7, -5, -3, -2, 0, 1, 3, 9]))
            if arrive > real_now:
                continue
            with clock(arrive):
                actions.check(acting_user=a.user, assignment_id=a.pk, direction="in", client_id=f"demo-in-{a.pk}")
            leave = a.shift.ends_at + dt.timedelta(minutes=rng.randint(0, 12))
            if leave > real_now:
                continue
            with clock(leave):
                actions.check(acting_user=a.user, assignment_id=a.pk, direction="out", client_id=f"demo-out-{a.pk}",
                              note=rng.choice(["", "", "分发蔬菜包，秩序良好", "协助老人代领物资", "登记未取户，明日补送"]))
    out["fever"] = fever_at is not None
    # Tomorrow's plan, made this evening: each point's two shifts filled by the suggestion
    # (fewest hours first, constraints honoured), and an open evening slot for volunteers.
    tomorrow = days[-1] + dt.timedelta(days=1)
    with clock(min(real_now, _at(days[-1], 18 * 60 + 30)) - dt.timedelta(minutes=1)):
        for site in sites[:4]:
            for hi, (start_m, end_m) in enumerate(SHIFTS):
                shift = actions.create_shift(acting_user=lead_of[site.pk], site=site, post="distribution", post_name=site.name,
                                             group="一组" if hi == 0 else "二组", starts_at=_at(tomorrow, start_m),
                                             ends_at=_at(tomorrow, end_m), slots=4)
                for uid in queries.suggest(shift):
                    actions.assign(acting_user=lead_of[site.pk], shift=shift, user=User.objects.get(pk=uid))
            actions.create_shift(acting_user=lead_of[site.pk], site=site, post="distribution", post_name=site.name,
                                 group="补位", starts_at=_at(tomorrow, 20 * 60), ends_at=_at(tomorrow, 22 * 60), slots=2,
                                 open=True)

    # The street lets its police issue temporary passes (临时通行证) of 24 hours at most.
    with clock(_at(first, 6 * 60 + 30)):
        actions.set_street_settings(acting_user=None, street=tree["street"], police_passes=True, police_pass_hours=24)

    # --- The other sites: shifts, check-ins and health check-ins in bulk ------------------------------
    shifts, rows, checks = [], [], []
    import secrets

    for site in sites[4:]:
        for di, day in enumerate(days):
            for hi, (start_m, end_m) in enumerate(SHIFTS):
                shifts.append(Shift(site=site, post="gate" if site.code.startswith("DEMO-GD") else "other", group=f"{hi + 1}组",
                                    starts_at=_at(day, start_m), ends_at=_at(day, end_m), slots=4, place_path=site.place_path,
                                    post_code=secrets.token_urlsafe(9)[:12], post_name=site.name))
    Shift.objects.bulk_create(shifts, batch_size=500)
    by_site: dict[int, list] = {}
    for s in shifts:
        by_site.setdefault(s.site_id, []).append(s)
    for site in sites[4:]:
        group = crew[site.pk]
        for n, s in enumerate(by_site[site.pk]):
            half = group[(n % 2) * 5:(n % 2) * 5 + 4]
            for user in half:
                if s.starts_at > real_now:
                    rows.append(Assignment(shift=s, user=user, site=site, place_path=site.place_path))
                    continue
                late = rng.random() < 0.05
                cin = s.starts_at + dt.timedelta(minutes=rng.randint(6, 20) if late else -rng.randint(0, 10))
                if cin > real_now:  # a late arrival still to come (the shift began minutes ago)
                    rows.append(Assignment(shift=s, user=user, site=site, place_path=site.place_path))
                    continue
                done = s.ends_at + dt.timedelta(minutes=5) <= real_now
                cout = s.ends_at + dt.timedelta(minutes=rng.randint(0, 5)) if done else None
                rows.append(Assignment(shift=s, user=user, site=site, place_path=site.place_path,
                                       state=A.CHECKED_OUT if done else A.CHECKED_IN, checkin_at=cin, checkin_device_at=cin,
                                       checkin_server_at=cin, checkout_at=cout, checkout_device_at=cout, checkout_server_at=cout,
                                       late=late, minutes=int((cout - cin).total_seconds() // 60) if cout else 0))
        for day in days:
            for user in group:
                moment = _at(day, 7 * 60 + rng.randint(0, 50))
                if moment <= real_now:
                    checks.append(HealthCheck(user=user, day=day, temperature=f"36.{rng.randint(2, 8)}", state="ok", site=site,
                                              place_path=site.place_path, reported_at=moment))
    Assignment.objects.bulk_create(rows, batch_size=1000)
    HealthCheck.objects.bulk_create(checks, batch_size=1000)
    out["shift_assignments"] = Assignment.objects.filter(site__in=sites).count()
    return out
