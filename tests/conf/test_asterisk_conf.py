"""The shipped Asterisk configuration (asterisk-conf/) and the Docker files around it.

Every reference in the configuration must resolve: Goto/GotoIf targets, includes,
Queue() names, Dial/ChanSpy interfaces, queue members, pjsip aors/auths/contexts.
The credentials must equal what the CTI uses by default (cti.config.Settings),
and the IVR must keep the conventions the CTI reads (docs/ivr.md), checked
against the real lab dialplan that recorded the traces. The first tests cover
the parser itself (cti/asterisk_conf.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from trace_paths import TRACES

from cti.asterisk_conf import (
    ConfError,
    ConfFile,
    Dialplan,
    GotoTarget,
    Priority,
    expand_pattern,
    goto_targets,
    match_extension,
    parse_conf,
    split_args,
    substitute_exten,
)
from cti.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "asterisk-conf"
DOCKER_DIR = ROOT / "docker"
LAB_DIR = TRACES / "lab-config"
CONF_FILES = sorted(p.name for p in CONF_DIR.glob("*.conf"))

# What the CTI reads from the dialplan (docs/ivr.md).
IVR_KEYS = frozenset({"Step", "Choice", "Account", "Customer", "Uniqueid"})
CTI_VARIABLES = frozenset({"CTI_DNIS", "CTI_MENU", "CTI_ACCOUNT", "CTI_ORIGIN", "CTI_CUSTOMER_ID"})
# Apps whose first argument names interfaces (`&`-separated).
INTERFACE_APPS = frozenset({"dial", "chanspy"})


def conf(name: str) -> ConfFile:
    return parse_conf((CONF_DIR / name).read_text(encoding="utf-8"), source=name)


def dialplan() -> Dialplan:
    return Dialplan.from_conf(conf("extensions.conf"))


def endpoints() -> frozenset[str]:
    return frozenset(s.name for s in conf("pjsip.conf").of_type("endpoint"))


def queues() -> frozenset[str]:
    return conf("queues.conf").names() - {"general"}


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the CTI starts with no CTI_* environment: what the config must match."""
    for name in list(os.environ):
        if name.startswith("CTI_"):
            monkeypatch.delenv(name)
    return Settings()


# --- the parser ----------------------------------------------------------------

SAMPLE = """\
; a comment
[tpl](!)
type = endpoint
context = a ; trailing comment
[1001](tpl)
context = b
note = semi\\;colon
;-- a block
comment --;
[1001]
type = aor
[1001](+)
max_contacts = 1
"""


def test_parser_templates_inheritance_and_comments() -> None:
    c = parse_conf(SAMPLE, "sample.conf")
    assert [s.name for s in c.sections] == ["tpl", "1001", "1001"]
    assert c.named("tpl") == ()  # a (!) template is not a concrete section
    endpoint, aor = c.named("1001")
    assert endpoint.templates == ("tpl",)
    assert endpoint.get("type") == "endpoint"
    assert endpoint.get("context") == "b"  # own entry overrides the template's
    assert endpoint.get_all("context") == ("a", "b")
    assert endpoint.get("note") == "semi;colon"
    assert aor.get("max_contacts") == "1"  # (+) appended to the last [1001]
    assert [s.name for s in c.of_type("aor")] == ["1001"]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("key = value\n", 1, "before any [section]"),
        ("[a]\nno equals sign\n", 2, "expected `key = value`"),
        ("[a](missing)\n", 1, "undefined [missing]"),
        ("[a]\n#include other.conf\n", 2, "directive not supported"),
        ("[a]\n;-- never closed\n", 2, "unterminated"),
        ("[a\n", 1, "bad section header"),
    ],
)
def test_parser_rejects_bad_syntax_with_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ConfError) as info:
        parse_conf(text, "bad.conf")
    assert info.value.line == line
    assert reason in info.value.reason


def test_dialplan_priorities_labels_and_gotos() -> None:
    dp = Dialplan.from_conf(
        parse_conf(
            "[general]\nstatic = yes\n"
            "[in]\ninclude => more\n"
            "exten => _X.,1,NoOp(x)\n"
            ' same => n(top),GotoIf($["${A}" = "1"]?yes:other,s,1)\n'
            " same => n(yes),Goto(more,100,hint)\n"
            "exten => 100,hint,PJSIP/100\n"
            "[more]\nexten => 100,1,Dial(PJSIP/100&PJSIP/101,20)\n"
            "exten => s,1,NoOp(s)\n"
        )
    )
    assert dp.contexts == {"in", "more"}
    assert [(p.exten, p.number, p.label) for p in dp.in_context("in")] == [
        ("_X.", 1, None),
        ("_X.", 2, "top"),
        ("_X.", 3, "yes"),
    ]
    gotoif = dp.in_context("in")[1]
    assert goto_targets(gotoif) == (
        GotoTarget("in", "_X.", "yes"),
        GotoTarget("other", "s", "1"),
    )
    assert dp.resolve(GotoTarget("in", "_X.", "yes")) == dp.in_context("in")[2]
    # The context's own extensions first (`_X.` matches 100), then its includes.
    assert dp.resolve(GotoTarget("in", "100", "1")) == dp.in_context("in")[0]
    assert dp.resolve(GotoTarget("in", "s", "1")) == dp.in_context("more")[1]
    assert dp.resolve(GotoTarget("in", "100", "7")) is None
    assert split_args("PJSIP/100&PJSIP/101,20")[0].split("&") == ["PJSIP/100", "PJSIP/101"]


def test_patterns() -> None:
    assert match_extension("_X.", "18005550100")
    assert not match_extension("_X.", "")
    assert match_extension("_100[1-3]", "1003")
    assert not match_extension("_100[1-3]", "1004")
    assert match_extension("_NXX", "234")
    assert not match_extension("_NXX", "134")
    assert expand_pattern("_100[1-3]") == ("1001", "1002", "1003")
    assert expand_pattern("_9X.") is None  # unbounded
    assert expand_pattern("_XXXX", limit=100) is None  # too many
    assert expand_pattern("1001") == ("1001",)
    assert substitute_exten("PJSIP/${EXTEN:3}", "5511001") == "PJSIP/1001"
    assert substitute_exten("${EXTEN:1:3}|${EXTEN}", "95551234") == "555|95551234"


# --- every shipped file ----------------------------------------------------------


def test_all_expected_files_are_shipped() -> None:
    expected = {
        "extensions.conf",
        "pjsip.conf",
        "queues.conf",
        "manager.conf",
        "ari.conf",
        "http.conf",
        "features.conf",
        "modules.conf",
        "logger.conf",
    }
    assert expected <= set(CONF_FILES)


@pytest.mark.parametrize("name", CONF_FILES)
def test_every_conf_file_parses(name: str) -> None:
    parsed = conf(name)
    assert parsed.sections, f"{name} has no sections"


# --- the dialplan's references -----------------------------------------------------


def test_every_goto_target_exists() -> None:
    dp = dialplan()
    checked = 0
    for p in dp.priorities:
        for target in goto_targets(p):
            where = f"extensions.conf:{p.line} {p.app}({p.data})"
            assert target.context in dp.contexts, f"{where}: no context [{target.context}]"
            assert dp.resolve(target) is not None, f"{where}: {target} does not exist"
            checked += 1
    assert checked >= 1  # the IVR menu's GotoIf


def test_every_include_exists() -> None:
    dp = dialplan()
    for context, included in dp.includes:
        assert included in dp.contexts, f"[{context}] includes missing [{included}]"


def test_every_queue_in_the_dialplan_is_defined() -> None:
    used = {split_args(p.data)[0] for p in dialplan().priorities if p.app.lower() == "queue"}
    assert used == {"support", "sales"}
    assert used <= queues()


def _interfaces(p: Priority, dp: Dialplan) -> list[str]:
    """The PJSIP interfaces a Dial/ChanSpy priority can reach (fails on unbounded ones).

    A `Local/exten@context` target is checked against the dialplan instead.
    """
    first = split_args(p.data)[0]
    numbers = expand_pattern(p.exten)
    out: list[str] = []
    for item in first.split("&"):
        tech, _, resource = item.partition("/")
        if tech == "Local":
            exten, _, context = resource.split("/", 1)[0].partition("@")
            target = GotoTarget(context or p.context, exten, "1")
            assert "${" in exten or dp.resolve(target) is not None, (
                f"extensions.conf:{p.line}: {item} goes nowhere"
            )
        if tech != "PJSIP":
            continue
        endpoint_part = resource.split("@", 1)[1] if "@" in resource else resource
        if "${" not in endpoint_part:
            out.append(f"PJSIP/{endpoint_part}")
            continue
        assert numbers is not None, (
            f"extensions.conf:{p.line}: {p.app} to {item} under unbounded pattern {p.exten}"
        )
        out.extend(f"PJSIP/{substitute_exten(endpoint_part, n)}" for n in numbers)
    return out


def test_every_dial_and_chanspy_target_is_an_endpoint() -> None:
    known = endpoints()
    reached: set[str] = set()
    dp = dialplan()
    for p in dp.priorities:
        if p.app.lower() not in INTERFACE_APPS:
            continue
        for interface in _interfaces(p, dp):
            name = interface.removeprefix("PJSIP/")
            assert name in known, f"extensions.conf:{p.line}: {interface} is not in pjsip.conf"
            reached.add(name)
    assert {"1001", "1002", "1003", "pstn"} <= reached


def test_every_queue_member_is_an_endpoint() -> None:
    known = endpoints()
    for section in conf("queues.conf").sections:
        for member in section.get_all("member"):
            interface = split_args(member)[0]
            tech, _, name = interface.partition("/")
            assert tech == "PJSIP", f"[{section.name}] member {interface}: only PJSIP phones"
            assert name in known, f"[{section.name}] member {interface} is not in pjsip.conf"


def test_agents_and_queue_membership() -> None:
    pjsip = conf("pjsip.conf")
    callerids = {s.name: s.get("callerid") for s in pjsip.of_type("endpoint")}
    assert callerids["1001"] == '"Alice Agent" <1001>'
    assert callerids["1002"] == '"Bob Agent" <1002>'
    assert callerids["1003"] == '"Carol Supervisor" <1003>'
    q = conf("queues.conf")
    members = {
        name: [split_args(m)[0] for m in q.named(name)[0].get_all("member")]
        for name in ("support", "sales")
    }
    assert members == {"support": ["PJSIP/1001", "PJSIP/1002"], "sales": ["PJSIP/1002"]}


def test_pjsip_references_resolve() -> None:
    pjsip = conf("pjsip.conf")
    contexts = dialplan().contexts
    aors = {s.name for s in pjsip.of_type("aor")}
    auths = {s.name for s in pjsip.of_type("auth")}
    for ep in pjsip.of_type("endpoint"):
        assert ep.get("context") in contexts, f"endpoint {ep.name}: no context {ep.get('context')}"
        for aor in (ep.get("aors") or "").split(","):
            assert aor.strip() in aors, f"endpoint {ep.name}: no aor {aor}"
        if ep.get("auth") is not None:
            assert ep.get("auth") in auths, f"endpoint {ep.name}: no auth {ep.get('auth')}"
    for ident in pjsip.of_type("identify"):
        assert ident.get("endpoint") in endpoints()
    assert {s.get("context") for s in pjsip.named("1003") if s.get("type") == "endpoint"} == {
        "from-supervisors"
    }


def test_lab_only_parts_are_not_shipped() -> None:
    assert "bulk" not in queues()
    assert "agents-sim" not in dialplan().contexts
    assert not any(p.exten == "18005550199" for p in dialplan().priorities)


# --- the IVR conventions the CTI reads (docs/ivr.md) ---------------------------------


def _user_event_keys(p: Priority) -> dict[str, str]:
    name, *pairs = split_args(p.data)
    assert name == "IVRStep", f"extensions.conf:{p.line}: UserEvent {name} is not IVRStep"
    keys: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        assert sep, f"extensions.conf:{p.line}: {pair!r} is not `Key: value`"
        keys[key.strip()] = value.strip()
    return keys


def test_ivr_user_events_keep_their_keys() -> None:
    steps = set()
    for p in dialplan().priorities:
        if p.app != "UserEvent":
            continue
        keys = _user_event_keys(p)
        assert set(keys) <= IVR_KEYS, f"extensions.conf:{p.line}: unknown keys"
        assert keys["Uniqueid"] == "${UNIQUEID}"
        steps.add(keys["Step"])
    assert steps == {"welcome", "menu", "account", "stasis-done"}


def test_cti_variables_are_the_documented_ones() -> None:
    seen = set()
    for p in dialplan().priorities:
        if p.app == "Set":
            name = p.data.partition("=")[0].strip()
        elif p.app == "Read":
            name = split_args(p.data)[0]
        else:
            continue
        if name.startswith("CTI_"):
            assert name in CTI_VARIABLES, f"extensions.conf:{p.line}: undocumented {name}"
            seen.add(name)
    # CTI_CUSTOMER_ID comes from the ARI app, CTI_ORIGIN from the CTI's Originate.
    assert seen == {"CTI_DNIS", "CTI_MENU", "CTI_ACCOUNT"}


def test_ivr_is_the_lab_ivr_that_recorded_the_traces() -> None:
    """Same IVR applications with the same arguments as the lab (minus its load-test DNIS)."""
    lab_file = LAB_DIR / "extensions.conf"
    if not lab_file.exists():
        pytest.skip(f"lab config not found at {lab_file} (set CTI_TRACES)")
    lab = Dialplan.from_conf(parse_conf(lab_file.read_text(encoding="utf-8"), "lab"))
    shipped = dialplan()
    ivr_apps = {"Set", "Read", "UserEvent", "Queue", "Stasis", "GotoIf", "Playback"}

    def ivr(dp: Dialplan) -> Counter[tuple[str, str, str, int, str | None, str]]:
        return Counter(
            (p.context, p.exten, p.app, p.number, p.label, p.data)
            for p in dp.in_context("from-pstn")
            if p.app in ivr_apps and p.exten != "18005550199"
        )

    assert ivr(shipped) == ivr(lab)


# --- credentials and listeners match the CTI's defaults ------------------------------


def test_manager_conf_matches_the_cti(defaults: Settings) -> None:
    manager = conf("manager.conf")
    (general,) = manager.named("general")
    assert general.get("enabled") == "yes"
    assert general.get("port") == str(defaults.ami_port)
    # The CTI container connects across the compose network.
    assert general.get("bindaddr") == "0.0.0.0"
    (user,) = manager.named(defaults.ami_username)
    assert user.get("secret") == defaults.ami_secret
    assert user.get_all("deny") == ("0.0.0.0/0.0.0.0",)
    permits = [ipaddress.ip_network(p, strict=True) for p in user.get_all("permit")]
    assert permits
    for net in permits:
        assert net.is_private, f"manager.conf permits a public range {net}"
    assert user.get("read") == "all"
    writes = set((user.get("write") or "").split(","))
    assert {"system", "call", "agent", "originate", "reporting"} <= writes
    assert not writes & {"all", "command", "config"}


def test_ari_and_http_match_the_cti(defaults: Settings) -> None:
    ari = conf("ari.conf")
    assert ari.named("general")[0].get("enabled") == "yes"
    (user,) = ari.named(defaults.ari_username)
    assert user.get("type") == "user"
    assert user.get("password") == defaults.ari_password
    (http,) = conf("http.conf").named("general")
    assert http.get("enabled") == "yes"
    assert http.get("bindport") == "8088"
    assert defaults.ari_url.endswith(":8088")
    assert http.get("bindaddr") == "0.0.0.0"


# --- docker/ -------------------------------------------------------------------------


def _strip_yaml_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _yaml_scalar(text: str) -> object:
    if text.startswith("[") and text.endswith("]"):
        return [_yaml_scalar(item.strip()) for item in text[1:-1].split(",") if item.strip()]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _yaml_block(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[object, int]:
    if lines[pos][1].startswith("- "):
        items: list[object] = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            items.append(_yaml_scalar(lines[pos][1][2:].strip()))
            pos += 1
        return items, pos
    mapping: dict[str, object] = {}
    while pos < len(lines) and lines[pos][0] == indent:
        text = lines[pos][1]
        key, sep, rest = (text[:-1], ":", "") if text.endswith(":") else text.partition(": ")
        assert sep, f"not a `key: value` line: {text!r}"
        pos += 1
        if rest.strip():
            mapping[key] = _yaml_scalar(rest.strip())
        elif pos < len(lines) and lines[pos][0] > indent:
            mapping[key], pos = _yaml_block(lines, pos, lines[pos][0])
        else:
            mapping[key] = None
    return mapping, pos


def mini_yaml(text: str) -> dict[str, object]:
    """The YAML subset compose.yml uses: block mappings and sequences, flow lists, quotes."""
    lines = []
    for raw in text.splitlines():
        line = _strip_yaml_comment(raw).rstrip()
        if line.strip():
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))
    value, pos = _yaml_block(lines, 0, 0)
    assert pos == len(lines), f"unparsed from line {lines[pos]}"
    assert isinstance(value, dict)
    return value


def _mapping(value: object) -> dict[str, object]:
    assert isinstance(value, dict)
    return value


def test_compose_services_and_profiles() -> None:
    compose = mini_yaml((DOCKER_DIR / "compose.yml").read_text(encoding="utf-8"))
    services = _mapping(compose["services"])
    assert set(services) == {"asterisk", "cti", "postgres", "rabbitmq"}
    for name in ("asterisk", "cti"):
        assert "profiles" not in _mapping(services[name]), f"{name} must run by default"
    for name in ("postgres", "rabbitmq"):
        assert _mapping(services[name])["profiles"] == ["full"]
    asterisk = _mapping(services["asterisk"])
    assert _mapping(asterisk["build"])["dockerfile"] == "docker/Dockerfile.asterisk"
    cti = _mapping(services["cti"])
    assert _mapping(cti["build"])["dockerfile"] == "docker/Dockerfile.cti"
    env = _mapping(cti["environment"])
    assert env["CTI_AMI_HOST"] == "asterisk"
    assert env["CTI_AMI_USERNAME"] == "cti"
    assert env["CTI_AMI_SECRET"] == "cti-secret"
    assert env["CTI_ARI_URL"] == "http://asterisk:8088"
    assert env["CTI_HTTP_HOST"] == "0.0.0.0"
    # AMI and ARI are published on the host's loopback only.
    published = asterisk["ports"]
    assert isinstance(published, list)
    assert "127.0.0.1:5038:5038" in published
    assert "127.0.0.1:8088:8088" in published
    # The `full` env file switches the profile on and points the CTI at postgres.
    full_env = dict(
        line.split("=", 1)
        for line in (DOCKER_DIR / "full.env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert full_env["COMPOSE_PROFILES"] == "full"
    assert full_env["CTI_DATABASE_URL"].startswith("postgresql+psycopg://cti:cti@postgres:5432/")
    pg_env = _mapping(_mapping(services["postgres"])["environment"])
    assert full_env["CTI_DATABASE_URL"].endswith(f"/{pg_env['POSTGRES_DB']}")


def _as_text(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def test_compose_is_yaml_and_the_mini_parser_agrees() -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed in this environment")
    text = (DOCKER_DIR / "compose.yml").read_text(encoding="utf-8")
    assert _as_text(yaml.safe_load(text)) == mini_yaml(text)


def test_dockerfiles() -> None:
    asterisk = (DOCKER_DIR / "Dockerfile.asterisk").read_text(encoding="utf-8")
    assert re.search(r"^FROM alpine:", asterisk, re.M)
    assert re.search(r"apk add --no-cache asterisk asterisk-sounds-en", asterisk)
    assert "COPY asterisk-conf/ /etc/asterisk/" in asterisk
    cti = (DOCKER_DIR / "Dockerfile.cti").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", cti, re.M)
    assert "pip install ." in cti
    assert 'CMD ["cti", "serve"]' in cti
