"""The shipped Asterisk configuration (asterisk-conf/) and the Docker files around it.

Every reference in the configuration must resolve: Goto/GotoIf targets, includes,
Queue() names, Dial/ChanSpy interfaces (PJSIP endpoints and Local/exten@context),
queue members, pjsip aors/auths/contexts/transports, and the contexts the CTI
itself sends calls to (cti-originate, cti-hold, cti-hold-agent, from-agents).
The dialplan is checked as shipped and with the live tests' additions
(docker/test/extensions-test.conf). The credentials must equal what the CTI uses
by default (cti.config.Settings), the IVR must keep the conventions the CTI
reads (docs/ivr.md), checked against the real lab dialplan that recorded the
traces, and asterisklint must find no error. The first tests cover the parser
itself (cti/asterisk_conf.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from trace_paths import TRACES

from cti.asterisk_conf import (
    ConfError,
    ConfFile,
    Dialplan,
    GotoTarget,
    Loader,
    Priority,
    expand_pattern,
    goto_targets,
    local_target,
    match_extension,
    parse_conf,
    split_args,
    substitute_exten,
)
from cti.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "asterisk-conf"
DOCKER_DIR = ROOT / "docker"
TEST_CONF_DIR = DOCKER_DIR / "test"  # mounted beside asterisk-conf/ by compose.test.yml
LAB_DIR = TRACES / "lab-config"
CONF_FILES = sorted(p.name for p in CONF_DIR.glob("*.conf"))

# What the CTI reads from the dialplan (docs/ivr.md).
IVR_KEYS = frozenset({"Step", "Choice", "Account", "Customer", "Uniqueid"})
CTI_VARIABLES = frozenset({"CTI_DNIS", "CTI_MENU", "CTI_ACCOUNT", "CTI_ORIGIN", "CTI_CUSTOMER_ID"})
# Apps whose first argument names interfaces (`&`-separated).
INTERFACE_APPS = frozenset({"dial", "chanspy"})


def loader(*dirs: Path) -> Loader:
    """Resolve #include names as Asterisk does in /etc/asterisk: the first dir that has it."""

    def load(name: str) -> str | None:
        for d in dirs:
            if (d / name).is_file():
                return (d / name).read_text(encoding="utf-8")
        return None

    return load


def conf(name: str, *dirs: Path) -> ConfFile:
    """A shipped file, with includes resolved in asterisk-conf/ (and `dirs`)."""
    return parse_conf(
        (CONF_DIR / name).read_text(encoding="utf-8"),
        source=name,
        loader=loader(CONF_DIR, *dirs),
    )


def dialplan(*dirs: Path) -> Dialplan:
    return Dialplan.from_conf(conf("extensions.conf", *dirs))


# Every dialplan check runs on both: as shipped, and as the live tests load it.
DIALPLANS = {"shipped": (), "with-test-contexts": (TEST_CONF_DIR,)}


@pytest.fixture(params=sorted(DIALPLANS))
def dp(request: pytest.FixtureRequest) -> Dialplan:
    dirs: tuple[Path, ...] = DIALPLANS[request.param]
    return dialplan(*dirs)


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


INCLUDED = {
    "main.conf": "[a]\nx = 1\n#include part.conf\n#tryinclude absent.conf\ny = 3\n",
    "part.conf": "z = 2\n[b]\nw = 4\n",
    "loop.conf": "#include loop.conf\n",
}


def _fake_loader(name: str) -> str | None:
    return INCLUDED.get(name)


def test_parser_splices_includes_where_they_stand() -> None:
    c = parse_conf(INCLUDED["main.conf"], "main.conf", loader=_fake_loader)
    a, b = c.sections
    # An included file continues the section open at the #include, as in Asterisk.
    assert [(e.key, e.source) for e in a.entries] == [
        ("x", "main.conf"),
        ("z", "part.conf"),
    ]
    assert [(e.key, e.value, e.source) for e in b.entries] == [
        ("w", "4", "part.conf"),
        ("y", "3", "main.conf"),
    ]


@pytest.mark.parametrize(
    ("text", "source", "line", "reason"),
    [
        ("[a]\n#include absent.conf\n", "bad.conf", 2, "no such file"),
        ('[a]\n#include "part.conf"\n#exec /bin/true\n', "bad.conf", 3, "not supported"),
        ("[a]\n#include\n", "bad.conf", 2, "names no file"),
        ("[a]\n#include loop.conf\n", "loop.conf", 1, "nested too deep"),
    ],
)
def test_parser_include_errors(text: str, source: str, line: int, reason: str) -> None:
    with pytest.raises(ConfError) as info:
        parse_conf(text, "bad.conf", loader=_fake_loader)
    assert (info.value.source, info.value.line) == (source, line)
    assert reason in info.value.reason


def test_local_target() -> None:
    assert local_target("Local/1001@cti-test-agents/n", "x") == GotoTarget(
        "cti-test-agents", "1001", "1"
    )
    assert local_target("Local/s", "ctx") == GotoTarget("ctx", "s", "1")
    assert local_target("PJSIP/1001", "ctx") is None


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
        "musiconhold.conf",
        "modules.conf",
        "logger.conf",
    }
    assert expected <= set(CONF_FILES)
    # The test-only dialplan is not shipped: the image copies asterisk-conf/ whole.
    assert not (CONF_DIR / "extensions-test.conf").exists()


@pytest.mark.parametrize("name", CONF_FILES)
def test_every_conf_file_parses(name: str) -> None:
    parsed = conf(name)
    assert parsed.sections, f"{name} has no sections"


def test_the_test_contexts_load_only_with_the_overlay() -> None:
    test_contexts = {"cti-test-caller", "cti-test-agents", "cti-test-dial"}
    assert not test_contexts & dialplan().contexts
    assert test_contexts <= dialplan(TEST_CONF_DIR).contexts
    compose_test = (DOCKER_DIR / "compose.test.yml").read_text(encoding="utf-8")
    assert "./test/extensions-test.conf:/etc/asterisk/extensions-test.conf:ro" in compose_test
    assert "#tryinclude extensions-test.conf" in (CONF_DIR / "extensions.conf").read_text(
        encoding="utf-8"
    )


# --- the dialplan's references -----------------------------------------------------


def test_every_goto_target_exists(dp: Dialplan) -> None:
    checked = 0
    for p in dp.priorities:
        for target in goto_targets(p):
            where = f"{p.where} {p.app}({p.data})"
            assert target.context in dp.contexts, f"{where}: no context [{target.context}]"
            assert dp.resolve(target) is not None, f"{where}: {target} does not exist"
            checked += 1
    assert checked >= 1  # the IVR menu's GotoIf


def test_every_include_exists(dp: Dialplan) -> None:
    for context, included in dp.includes:
        assert included in dp.contexts, f"[{context}] includes missing [{included}]"


def test_every_queue_in_the_dialplan_is_defined(dp: Dialplan) -> None:
    used = {split_args(p.data)[0] for p in dp.priorities if p.app.lower() == "queue"}
    assert used == {"support", "sales"}
    assert used <= queues()


def test_every_stasis_app_is_the_ctis(dp: Dialplan, defaults: Settings) -> None:
    apps = {split_args(p.data)[0] for p in dp.priorities if p.app.lower() == "stasis"}
    assert apps == {defaults.ari_app}


def _interfaces(p: Priority, dp: Dialplan) -> list[str]:
    """The PJSIP interfaces a Dial/ChanSpy priority can reach (fails on unbounded ones).

    A `Local/exten@context` target is checked against the dialplan instead.
    """
    first = split_args(p.data)[0]
    numbers = expand_pattern(p.exten)
    out: list[str] = []
    for item in first.split("&"):
        target = local_target(item, p.context)
        if target is not None:
            assert target.context in dp.contexts, f"{p.where}: {item}: no [{target.context}]"
            exten_numbers = (
                [substitute_exten(target.exten, n) for n in numbers]
                if numbers is not None
                else [target.exten]
            )
            for exten in exten_numbers:
                assert "${" in exten or dp.has_extension(target.context, exten), (
                    f"{p.where}: {item} goes nowhere"
                )
            continue
        tech, _, resource = item.partition("/")
        assert tech == "PJSIP", f"{p.where}: {item}: only PJSIP and Local interfaces"
        endpoint_part = resource.split("@", 1)[1] if "@" in resource else resource
        if "${" not in endpoint_part:
            out.append(f"PJSIP/{endpoint_part}")
            continue
        assert numbers is not None, (
            f"{p.where}: {p.app} to {item} under unbounded pattern {p.exten}"
        )
        out.extend(f"PJSIP/{substitute_exten(endpoint_part, n)}" for n in numbers)
    return out


def test_every_dial_and_chanspy_target_is_an_endpoint(dp: Dialplan) -> None:
    known = endpoints()
    reached: set[str] = set()
    for p in dp.priorities:
        if p.app.lower() not in INTERFACE_APPS:
            continue
        for interface in _interfaces(p, dp):
            name = interface.removeprefix("PJSIP/")
            if p.app.lower() == "chanspy":
                # ChanSpy takes a channel-name prefix: "PJSIP/1001-" is device 1001
                name = name.removesuffix("-")
            assert name in known, f"{p.where}: {interface} is not in pjsip.conf"
            reached.add(name)
    # Every phone is dialable and spied on; the trunk is dialed out.
    assert reached == known


def test_every_queue_member_is_an_endpoint() -> None:
    known = endpoints()
    for section in conf("queues.conf").sections:
        for member in section.get_all("member"):
            interface = split_args(member)[0]
            tech, _, name = interface.partition("/")
            assert tech == "PJSIP", f"[{section.name}] member {interface}: only PJSIP phones"
            assert name in known, f"[{section.name}] member {interface} is not in pjsip.conf"


AGENT_PHONES = {"1001", "1002", "1003", "1004", "1005"}


def test_contexts_the_cti_sends_calls_to(dp: Dialplan) -> None:
    """The CTI's own AMI actions name these contexts (Originate, Redirect, transfers)."""
    for context in ("cti-originate", "from-agents"):
        # click-to-dial and transfers: every agent, and outside numbers via 9
        for number in (*sorted(AGENT_PHONES), "918005550100"):
            assert dp.has_extension(context, number), f"[{context}] cannot reach {number}"
        assert not dp.has_extension(context, "18005550100")  # no way round the 9
    # hold: the held party hears music, the agent's leg waits in silence
    held = [p.app for p in dp.in_context("cti-hold") if p.exten == "s"]
    assert held[-2:] == ["MusicOnHold", "Hangup"]
    assert "Answer" in held
    (parked,) = [p for p in dp.in_context("cti-hold-agent") if p.app == "Wait"]
    assert (parked.exten, parked.data) == ("s", "3600")
    # the ARI app can send a channel back into the IVR app
    assert dp.has_extension("stasis-ivr", "18005550155")


def test_musiconhold_has_the_class_the_hold_plays(dp: Dialplan) -> None:
    classes = {split_args(p.data)[0] or "default" for p in dp.priorities if p.app == "MusicOnHold"}
    moh = conf("musiconhold.conf")
    for name in classes:
        (section,) = moh.named(name)
        assert section.get("mode") == "files"
        assert section.get("directory") == "moh"  # where asterisk-sounds-moh installs


def test_transfers_are_allowed_where_the_cti_transfers(dp: Dialplan) -> None:
    """AMI Atxfer works through the atxfer code, which Dial/Queue options t/T enable."""
    for p in dp.priorities:
        if p.app == "Queue":
            assert "t" in split_args(p.data)[1], f"{p.where}: agents could not transfer"
        if p.app == "Dial" and p.context in ("from-agents", "cti-test-dial"):
            options = split_args(p.data)[2] if len(split_args(p.data)) > 2 else ""
            assert {"t", "T"} <= set(options), f"{p.where}: Dial without tT"
    featuremap = conf("features.conf").named("featuremap")[0]
    assert featuremap.get("atxfer")
    assert featuremap.get("blindxfer")


def test_agents_and_queue_membership() -> None:
    pjsip = conf("pjsip.conf")
    callerids = {s.name: s.get("callerid") for s in pjsip.of_type("endpoint")}
    assert callerids == {
        "pstn": None,
        "1001": '"Alice Agent" <1001>',
        "1002": '"Bob Agent" <1002>',
        "1003": '"Carol Supervisor" <1003>',
        "1004": '"Dave Agent" <1004>',
        "1005": '"Erin Agent" <1005>',
    }
    q = conf("queues.conf")
    members = {
        name: [split_args(m)[0] for m in q.named(name)[0].get_all("member")]
        for name in ("support", "sales")
    }
    assert members == {
        "support": ["PJSIP/1001", "PJSIP/1002", "PJSIP/1004"],
        "sales": ["PJSIP/1002", "PJSIP/1005"],
    }


def test_pjsip_references_resolve() -> None:
    pjsip = conf("pjsip.conf")
    contexts = dialplan().contexts
    aors = {s.name for s in pjsip.of_type("aor")}
    auths = {s.name for s in pjsip.of_type("auth")}
    transports = {s.name for s in pjsip.of_type("transport")}
    for ep in pjsip.of_type("endpoint"):
        assert ep.get("context") in contexts, f"endpoint {ep.name}: no context {ep.get('context')}"
        for aor in (ep.get("aors") or "").split(","):
            assert aor.strip() in aors, f"endpoint {ep.name}: no aor {aor}"
        if ep.get("auth") is not None:
            assert ep.get("auth") in auths, f"endpoint {ep.name}: no auth {ep.get('auth')}"
        if ep.get("transport") is not None:
            assert ep.get("transport") in transports, f"endpoint {ep.name}: no transport"
    for ident in pjsip.of_type("identify"):
        assert ident.get("endpoint") in endpoints()
    contexts_of = {ep.name: ep.get("context") for ep in pjsip.of_type("endpoint")}
    assert contexts_of.pop("pstn") == "from-pstn"
    assert contexts_of.pop("1003") == "from-supervisors"
    assert set(contexts_of.values()) == {"from-agents"}


# --- browser softphones: WebRTC over WSS -------------------------------------------

KEYS = "/etc/asterisk/keys"


def test_webrtc_endpoints_use_wss_and_the_tls_pair() -> None:
    pjsip = conf("pjsip.conf")
    (wss,) = [t for t in pjsip.of_type("transport") if t.get("protocol") == "wss"]
    webrtc = [ep for ep in pjsip.of_type("endpoint") if ep.get("webrtc") == "yes"]
    assert {ep.name for ep in webrtc} == {"1004", "1005"}
    (http,) = conf("http.conf").named("general")
    for ep in webrtc:
        assert ep.get("transport") == wss.name
        # DTLS-SRTP uses the same files as the HTTPS server that carries WSS.
        assert ep.get("dtls_cert_file") == http.get("tlscertfile") == f"{KEYS}/asterisk.crt"
        assert ep.get("dtls_private_key") == http.get("tlsprivatekey") == f"{KEYS}/asterisk.key"
        # every WebRTC browser has G.711; nothing else is installed for it
        assert set((ep.get("allow") or "").split(",")) <= {"ulaw", "alaw"}
    # WSS arrives on Asterisk's TLS HTTP server.
    assert http.get("tlsenable") == "yes"
    assert http.get("tlsbindaddr") == "0.0.0.0:8089"
    # Desk phones are not WebRTC.
    for name in ("1001", "1002", "1003"):
        (ep,) = [e for e in pjsip.named(name) if e.get("type") == "endpoint"]
        assert ep.get("webrtc") is None


def test_docker_makes_the_tls_pair_the_config_names() -> None:
    entrypoint = (DOCKER_DIR / "asterisk-entrypoint.sh").read_text(encoding="utf-8")
    assert f"keys={KEYS}\n" in entrypoint
    assert "crt=$keys/asterisk.crt" in entrypoint
    assert "key=$keys/asterisk.key" in entrypoint
    assert "openssl req -x509" in entrypoint
    assert entrypoint.rstrip().endswith('exec "$@"')
    dockerfile = (DOCKER_DIR / "Dockerfile.asterisk").read_text(encoding="utf-8")
    assert f"VOLUME {KEYS}" in dockerfile
    assert 'ENTRYPOINT ["/usr/local/bin/asterisk-entrypoint.sh"]' in dockerfile


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_entrypoint_makes_a_usable_certificate(tmp_path: Path) -> None:
    """Run the entrypoint's certificate step with its paths moved into tmp_path."""
    script = (DOCKER_DIR / "asterisk-entrypoint.sh").read_text(encoding="utf-8")
    script = script.replace(f"keys={KEYS}", f"keys={tmp_path / 'keys'}")
    script = re.sub(r"^chown .*$", ":", script, flags=re.M)  # no `asterisk` user here
    (tmp_path / "ep.sh").write_text(script, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "ASTERISK_TLS_CN": "cti.example"}
    run = subprocess.run(
        ["sh", str(tmp_path / "ep.sh"), "echo", "started"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "started"
    crt = tmp_path / "keys" / "asterisk.crt"
    text = subprocess.run(
        ["openssl", "x509", "-in", str(crt), "-noout", "-subject", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert "CN = cti.example" in text or "CN=cti.example" in text
    assert "DNS:cti.example" in text
    assert (tmp_path / "keys" / "asterisk.key").stat().st_mode & 0o077 == 0
    # A second start keeps the certificate a browser was told to trust.
    before = crt.read_bytes()
    rerun = subprocess.run(
        ["sh", str(tmp_path / "ep.sh"), "true"], env=env, timeout=60, check=False
    )
    assert rerun.returncode == 0
    assert crt.read_bytes() == before


def test_lab_only_parts_are_not_shipped() -> None:
    assert "bulk" not in queues()
    assert "agents-sim" not in dialplan().contexts
    assert not any(p.exten == "18005550199" for p in dialplan().priorities)


# --- asterisklint ----------------------------------------------------------------

_LINT_LINE = re.compile(r"^(?P<where>\S+:\d+) (?P<code>[EWH]_[A-Z0-9_]+): (?P<text>.*)$")


def asterisklint(extensions_conf: Path) -> list[tuple[str, str, str]]:
    """(where, code, text) of every message `asterisklint dialplan-check` prints.

    It prints to stderr and exits 1 when it printed anything (hints included);
    anything else (a crash, an unknown line) fails the test.
    """
    exe = Path(sys.executable).with_name("asterisklint")
    assert exe.exists(), "asterisklint is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run(
        [str(exe), "dialplan-check", str(extensions_conf)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "ALINT_IGNORE": ""},
    )
    messages: list[tuple[str, str, str]] = []
    for line in (run.stdout + run.stderr).splitlines():
        if not line.strip() or line.startswith("    previous occurrence at "):
            continue
        m = _LINT_LINE.match(line)
        assert m is not None, f"asterisklint printed {line!r}:\n{run.stdout}{run.stderr}"
        messages.append((m["where"], m["code"], m["text"]))
    assert run.returncode == (1 if messages else 0), run.stderr
    return messages


def _lint_report(messages: list[tuple[str, str, str]]) -> str:
    return "\n".join(f"{w} {c}: {t}" for w, c, t in messages)


def test_asterisklint_finds_no_error_in_the_shipped_dialplan() -> None:
    messages = asterisklint(CONF_DIR / "extensions.conf")
    errors = [m for m in messages if m[1].startswith("E_")]
    assert not errors, _lint_report(errors)
    # Warnings and hints are listed (pytest -rP shows them), not failed on.
    print(_lint_report(messages) or "asterisklint: no messages")


def test_asterisklint_finds_no_error_with_the_test_contexts(tmp_path: Path) -> None:
    for src in (CONF_DIR / "extensions.conf", TEST_CONF_DIR / "extensions-test.conf"):
        shutil.copy(src, tmp_path / src.name)
    messages = asterisklint(tmp_path / "extensions.conf")
    errors = [m for m in messages if m[1].startswith("E_")]
    assert not errors, _lint_report(errors)
    print(_lint_report(messages) or "asterisklint: no messages")


def test_asterisklint_does_report_errors(tmp_path: Path) -> None:
    """The two tests above could not pass by asterisklint failing to look."""
    bad = tmp_path / "extensions.conf"
    bad.write_text(
        "[general]\n\n[globals]\n\n[c]\nexten => s,1,Fooo(x)\n same => n,Goto(nowhere,s,1)\n",
        encoding="utf-8",
    )
    codes = {code for _where, code, _text in asterisklint(bad)}
    assert {"E_APP_MISSING", "E_DP_GOTO_NOCONTEXT"} <= codes


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


# The classes Asterisk 22 registers each action with (any one of them is
# enough): every action the CTI sends, from resync to call control and spy.
NO_CLASS: frozenset[str] = frozenset()
AMI_ACTION_CLASSES: dict[str, frozenset[str]] = {
    "Login": NO_CLASS,
    "Ping": NO_CLASS,
    "Events": NO_CLASS,
    "QueueStatus": NO_CLASS,
    "QueueSummary": NO_CLASS,
    "BridgeList": NO_CLASS,
    "CoreShowChannels": frozenset({"system", "reporting"}),
    "DeviceStateList": frozenset({"call", "reporting"}),
    "Status": frozenset({"system", "call", "reporting"}),
    "ShowDialPlan": frozenset({"config", "reporting"}),
    "Originate": frozenset({"originate"}),  # click-to-dial, and spy with ChanSpy
    "Redirect": frozenset({"call"}),  # hold
    "Bridge": frozenset({"call"}),  # unhold
    "BlindTransfer": frozenset({"call"}),
    "Atxfer": frozenset({"call"}),
    "CancelAtxfer": frozenset({"call"}),
    "PlayDTMF": frozenset({"call"}),
    "Hangup": frozenset({"system", "call"}),
    "QueuePause": frozenset({"agent"}),
    "QueueAdd": frozenset({"agent"}),
    "QueueRemove": frozenset({"agent"}),
}


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
    for action, classes in AMI_ACTION_CLASSES.items():
        assert classes == NO_CLASS or classes & writes, f"AMI user cannot send {action}"
    # The least set: drop any class and some action the CTI sends is refused.
    for cls in writes:
        assert any(c != NO_CLASS and c & writes == {cls} for c in AMI_ACTION_CLASSES.values()), (
            f"write class {cls} is not needed"
        )
    assert not writes & {"all", "system", "command", "config"}


def test_ari_and_http_match_the_cti(defaults: Settings) -> None:
    ari = conf("ari.conf")
    assert ari.named("general")[0].get("enabled") == "yes"
    (user,) = ari.named(defaults.ari_username)
    assert user.get("type") == "user"
    assert user.get("password") == defaults.ari_password
    assert user.get("read_only") == "no"  # the data dip sets channel variables
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
    assert "8089:8089" in published  # WSS for browser softphones
    assert "asterisk-keys:/etc/asterisk/keys" in _list(asterisk["volumes"])
    assert "asterisk-keys" in _mapping(compose["volumes"])
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


def _list(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def test_compose_test_overlay_adds_only_the_test_dialplan() -> None:
    overlay = mini_yaml((DOCKER_DIR / "compose.test.yml").read_text(encoding="utf-8"))
    services = _mapping(overlay["services"])
    assert set(services) == {"asterisk"}
    (mount,) = _list(_mapping(services["asterisk"])["volumes"])
    assert isinstance(mount, str)
    source, target, mode = mount.split(":")
    # relative to docker/, the directory of the first compose file
    assert (DOCKER_DIR / source).resolve() == TEST_CONF_DIR / "extensions-test.conf"
    assert (target, mode) == ("/etc/asterisk/extensions-test.conf", "ro")


def _as_text(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


@pytest.mark.parametrize("name", ["compose.yml", "compose.test.yml"])
def test_compose_is_yaml_and_the_mini_parser_agrees(name: str) -> None:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed in this environment")
    text = (DOCKER_DIR / name).read_text(encoding="utf-8")
    assert _as_text(yaml.safe_load(text)) == mini_yaml(text)


# Modules asterisk-conf/ relies on: Dockerfile.asterisk stops the build without one.
REQUIRED_MODULES = {
    "chan_pjsip",
    "res_pjsip_transport_websocket",  # pjsip.conf transport-wss
    "res_http_websocket",  # ARI events, WSS
    "res_srtp",  # WebRTC DTLS-SRTP
    "res_ari",
    "res_stasis",
    "app_stasis",
    "app_queue",
    "app_chanspy",
    "app_read",
    "app_userevent",
    "app_senddtmf",  # docker/test/extensions-test.conf
    "res_musiconhold",
}


def test_dockerfiles() -> None:
    asterisk = (DOCKER_DIR / "Dockerfile.asterisk").read_text(encoding="utf-8")
    assert re.search(r"^FROM alpine:", asterisk, re.M)
    (apk,) = re.findall(r"apk add --no-cache ([^\\&\n]+)", asterisk)
    assert set(apk.split()) == {
        "asterisk",  # the PBX (a distribution package, not a source build)
        "asterisk-sounds-en",  # the IVR's prompts
        "asterisk-sounds-moh",  # music on hold
        "asterisk-srtp",  # res_srtp
        "openssl",  # the entrypoint's certificate
    }
    checked = set(re.findall(r"\b((?:chan|res|app|bridge|codec|format)_\w+)\b", asterisk))
    assert checked >= REQUIRED_MODULES
    assert "COPY asterisk-conf/ /etc/asterisk/" in asterisk
    assert "EXPOSE 5038 8088 8089 5060/udp 10000-10099/udp" in asterisk
    cti = (DOCKER_DIR / "Dockerfile.cti").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", cti, re.M)
    assert "pip install ." in cti
    assert 'CMD ["cti", "serve"]' in cti
