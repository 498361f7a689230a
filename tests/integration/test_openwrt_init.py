# SPDX-License-Identifier: MIT
# contrib/openwrt/braid/files/braid.init off OpenWrt: its start_service and service_triggers run
# under /bin/sh (dash; busybox sh too when installed) against a sample /etc/config/braid, with
# small stand-ins for /lib/functions.sh and /lib/functions/procd.sh (written here; the procd
# calls are recorded to a file) and the real braid binary. Checks: each enabled section is
# rendered to <confdir>/<section>.conf with dashed keys and repeated keys for lists, and passes
# `braid check-config`; disabled sections are not rendered; a section that fails validation or
# check-config is logged and not started; each instance gets the command line, respawn,
# stderr, file, term_timeout above the 5 s drain, and `user braid` only when that user exists;
# the reload triggers are braid and the wan interface.
import os
import shutil
import stat
import subprocess

import harness as h

INIT = os.path.join(h.HERE, "..", "..", "contrib", "openwrt", "braid", "files", "braid.init")

# /lib/functions.sh, only what braid.init uses. config_load sources the UCI file itself: UCI's
# format is shell once `config`, `option` and `list` are functions, as OpenWrt's uci_load uses it.
FUNCTIONS_SH = r'''
append() {
	local _var="$1" _val="$2" _sep="${3:- }"
	eval "$_var=\"\${$_var:+\${$_var}\${_sep}}\$_val\""
}
package() { :; }
config() {
	CONFIG_NUM=$((CONFIG_NUM + 1))
	CONFIG_SECTION="${2:-cfg$CONFIG_NUM}"
	append CONFIG_SECTIONS "$CONFIG_SECTION"
	config_set "$CONFIG_SECTION" TYPE "$1"
}
option() {
	local _name="$1"; shift
	config_set "$CONFIG_SECTION" "$_name" "$*"
}
list() {
	local _name="$1" _len; shift
	config_get _len "$CONFIG_SECTION" "${_name}_LENGTH" 0
	_len=$((_len + 1))
	config_set "$CONFIG_SECTION" "${_name}_ITEM$_len" "$*"
	config_set "$CONFIG_SECTION" "${_name}_LENGTH" "$_len"
	append "CONFIG_${CONFIG_SECTION}_${_name}" "$*"
}
config_set() { eval "CONFIG_$1_$2=\$3"; }
config_get() { eval "$1=\"\${CONFIG_$2_$3:-\$4}\""; }
config_get_bool() {
	local _b
	config_get _b "$2" "$3" "$4"
	case "$_b" in 1|on|true|yes|enabled) _b=1 ;; *) _b=0 ;; esac
	eval "$1=\$_b"
}
config_load() {
	CONFIG_SECTIONS=; CONFIG_NUM=0
	. "$UCI_CONFIG_DIR/$1"
}
config_foreach() {
	local _fn="$1" _type="$2" _s _t; shift 2
	for _s in $CONFIG_SECTIONS; do
		config_get _t "$_s" TYPE
		[ -z "$_type" ] || [ "$_t" = "$_type" ] || continue
		"$_fn" "$_s" "$@"
	done
}
config_list_foreach() {
	local _s="$1" _o="$2" _fn="$3" _len _i=1 _v; shift 3
	config_get _len "$_s" "${_o}_LENGTH"
	[ -n "$_len" ] || return 0
	while [ "$_i" -le "$_len" ]; do
		config_get _v "$_s" "${_o}_ITEM$_i"
		"$_fn" "$_v" "$@"
		_i=$((_i + 1))
	done
}
user_exists() { grep -qs "^$1:" "$FAKE_PASSWD"; }
'''

# /lib/functions/procd.sh: every call is a line in $PROCD_LOG. uci_validate_section sets one
# variable per option (the value, else the default; bools as 0/1), fails for a `file` option
# naming no file, and with no section name records the spec (procd_open_validate's use).
PROCD_SH = r'''
_procd_log() { printf '%s\n' "$*" >>"$PROCD_LOG"; }
procd_open_instance() { _procd_log "open_instance $*"; }
procd_set_param() { _procd_log "set_param $*"; }
procd_append_param() { _procd_log "append_param $*"; }
procd_close_instance() { _procd_log "close_instance"; }
procd_add_reload_trigger() { _procd_log "reload_trigger $*"; }
procd_add_reload_interface_trigger() { _procd_log "reload_interface_trigger $*"; }
procd_open_validate() { _procd_log "open_validate"; }
procd_close_validate() { _procd_log "close_validate"; }
uci_validate_section() {
	local _pkg="$1" _type="$2" _name="$3" _spec _opt _rest _def _val _err=0
	shift 3
	if [ -z "$_name" ]; then _procd_log "validate $_pkg $_type $*"; return 0; fi
	for _spec in "$@"; do
		_opt="${_spec%%:*}"; _rest="${_spec#*:}"; _def=
		case "$_rest" in *:*) _def="${_rest#*:}" ;; esac
		config_get _val "$_name" "$_opt"
		[ -n "$_val" ] || _val="$_def"
		case "$_rest" in
		bool*) case "$_val" in 1|on|true|yes|enabled) _val=1 ;; *) _val=0 ;; esac ;;
		file*) [ -z "$_val" ] || [ -f "$_val" ] || _err=1 ;;
		esac
		eval "$_opt=\$_val"
	done
	return $_err
}
'''

LOGGER = '#!/bin/sh\n# stands in for logger(1): one line per call\necho "$*" >>"$LOGGER_LOG"\n'


def uci_config(d, pin):
    return """
config client 'c1'
	option enabled '1'
	list server '127.0.0.1:8443'
	list server 'backup.example.net:8443'
	option server_pin '{pin}'
	option name 'router1'
	option secret_file '{d}/router1.secret'
	list socks '127.0.0.1:1080'
	list socks '127.0.0.1:1081'
	list remote_forward '127.0.0.1:8080:192.168.1.1:80'
	list peer_forward '4445:office:192.168.2.10:445'
	option links '2'
	option keepalive '10'
	option resume_timeout '30'
	option connect_reply 'confirmed'
	option compress 'auto'
	option verbose '2'

# disabled, and without `enabled` at all: neither is rendered
config client 'off'
	option enabled '0'
	list server '127.0.0.1:8443'
	option server_pin '{pin}'
	option name 'router1'
	option secret_file '{d}/router1.secret'
	list socks '127.0.0.1:1082'

config client 'noflag'
	list server '127.0.0.1:8443'

# a value braid refuses: check-config fails, nothing is started
config client 'bad'
	option enabled '1'
	list server '127.0.0.1:8443'
	option server_pin '{pin}'
	option name 'router1'
	option secret_file '{d}/router1.secret'
	list socks '127.0.0.1:1083'
	option compress 'fast'

# a secret file that does not exist: UCI validation fails
config client 'nofile'
	option enabled '1'
	list server '127.0.0.1:8443'
	option server_pin '{pin}'
	option name 'router1'
	option secret_file '{d}/missing.secret'
	list socks '127.0.0.1:1084'

config server 's1'
	option enabled 'yes'
	option listen '127.0.0.1:8443'
	option cert '{d}/server.crt'
	option key '{d}/server.key'
	option clients '{d}/clients'
	list allow '127.0.0.0/8'
	list allow '10.20.0.0/16'
	list deny '10.20.0.1'
	option fallback '127.0.0.1:80'
	option max_sessions '64'
""".format(d=d, pin=pin)


def shells():
    out = [("/bin/sh", ["/bin/sh"])]
    bb = shutil.which("busybox")
    if bb:
        out.append(("busybox sh", [bb, "sh"]))
    return out


def read(path):
    with open(path) as f:
        return f.read()


def keys_of(text):
    """[(key, value)] of the non-comment `key = value` lines of an INI text."""
    out = []
    for line in text.splitlines():
        if " = " in line and not line.startswith("#"):
            k, v = line.split(" = ", 1)
            out.append((k, v))
    return out


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        h.write(os.path.join(d, "router1.secret"), secret + "\n")
        h.write(os.path.join(d, "clients"), "router1 %s\n" % secret)
        for f in ("router1.secret", "clients", "server.key"):
            os.chmod(os.path.join(d, f), 0o600)
        os.makedirs(os.path.join(d, "lib", "functions"))
        fsh = h.write(os.path.join(d, "lib", "functions.sh"), FUNCTIONS_SH)
        psh = h.write(os.path.join(d, "lib", "functions", "procd.sh"), PROCD_SH)
        os.makedirs(os.path.join(d, "config"))
        h.write(os.path.join(d, "config", "braid"), uci_config(d, pin))
        bindir = os.path.join(d, "bin")
        os.makedirs(bindir)
        braid = os.path.join(bindir, "braid")
        os.symlink(os.path.abspath(h.BRAID), braid)
        logger = h.write(os.path.join(bindir, "logger"), LOGGER)
        os.chmod(logger, 0o755)
        passwd_with = h.write(os.path.join(d, "passwd"), "root:x:0:0::/root:/bin/sh\n"
                              "braid:x:999:999::/var/run/braid:/bin/false\n")
        passwd_without = h.write(os.path.join(d, "passwd-nobraid"), "root:x:0:0::/root:/bin/sh\n")

        def run_init(shell, tag, passwd):
            """Runs start_service + service_triggers; returns (confdir, procd lines, log text)."""
            confdir = os.path.join(d, "var-%s" % tag, "etc", "braid")
            procd_log = os.path.join(d, "procd-%s.log" % tag)
            logger_log = os.path.join(d, "logger-%s.log" % tag)
            env = dict(os.environ, BRAID_FUNCTIONS_SH=fsh, BRAID_PROCD_SH=psh, BRAID_BIN=braid,
                       BRAID_CONFDIR=confdir, UCI_CONFIG_DIR=os.path.join(d, "config"),
                       PROCD_LOG=procd_log, LOGGER_LOG=logger_log, FAKE_PASSWD=passwd,
                       PATH=bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
            env.pop("IPKG_INSTROOT", None)
            r = subprocess.run(shell + ["-c", '. "$1" && start_service && service_triggers',
                                        "braid.init", os.path.abspath(INIT)],
                               env=env, capture_output=True, text=True, timeout=h.dl(30),
                               cwd=d, stdin=subprocess.DEVNULL)
            h.check_eq(r.returncode, 0, "%s: start_service exit code (stderr %r)"
                       % (tag, r.stderr))
            h.check_eq(r.stderr.strip(), "", "%s: nothing on stderr" % tag)
            lines = read(procd_log).splitlines() if os.path.exists(procd_log) else []
            log = read(logger_log) if os.path.exists(logger_log) else ""
            return confdir, lines, log

        def instances(lines):
            """{instance name: [its set_param lines]} from the recorded procd calls."""
            out, cur = {}, None
            for line in lines:
                if line.startswith("open_instance "):
                    cur = line.split(" ", 1)[1]
                    out[cur] = []
                elif line == "close_instance":
                    cur = None
                elif cur is not None:
                    out[cur].append(line)
            return out

        def rendering(shell, tag):
            confdir, lines, log = run_init(shell, tag, passwd_with)

            # what is rendered
            for sec in ("off", "noflag", "nofile"):
                h.check(not os.path.exists(os.path.join(confdir, sec + ".conf")),
                        "%s: section %r was rendered" % (tag, sec))
            c1 = os.path.join(confdir, "c1.conf")
            s1 = os.path.join(confdir, "s1.conf")
            if not (h.check(os.path.exists(c1), "%s: c1.conf not rendered" % tag)
                    and h.check(os.path.exists(s1), "%s: s1.conf not rendered" % tag)):
                return
            h.check_eq(stat.S_IMODE(os.stat(c1).st_mode), 0o600, "%s: c1.conf mode" % tag)
            ctext, stext = read(c1), read(s1)
            sections = [l for l in ctext.splitlines() if l.startswith("[")]
            h.check_eq(sections, ["[client]"], "%s: c1.conf section lines" % tag)
            h.check_eq([l for l in stext.splitlines() if l.startswith("[")], ["[server]"],
                       "%s: s1.conf section lines" % tag)
            ckeys = keys_of(ctext)
            h.check_eq(ckeys, [
                ("server", "127.0.0.1:8443"), ("server", "backup.example.net:8443"),
                ("server-pin", pin), ("name", "router1"),
                ("secret-file", os.path.join(d, "router1.secret")), ("links", "2"),
                ("socks", "127.0.0.1:1080"), ("socks", "127.0.0.1:1081"),
                ("remote-forward", "127.0.0.1:8080:192.168.1.1:80"),
                ("peer-forward", "4445:office:192.168.2.10:445"),
                ("connect-reply", "confirmed"), ("compress", "auto"), ("keepalive", "10"),
                ("resume-timeout", "30"), ("verbose", "2")], "%s: c1.conf keys" % tag)
            h.check_eq(keys_of(stext), [
                ("listen", "127.0.0.1:8443"), ("cert", os.path.join(d, "server.crt")),
                ("key", os.path.join(d, "server.key")), ("clients", os.path.join(d, "clients")),
                ("allow", "127.0.0.0/8"), ("allow", "10.20.0.0/16"), ("deny", "10.20.0.1"),
                ("fallback", "127.0.0.1:80"), ("max-sessions", "64")], "%s: s1.conf keys" % tag)
            for path in (c1, s1):
                r = h.run_braid(["check-config", "-c", path])
                h.check_eq(r.returncode, 0, "%s: braid check-config -c %s (stderr %r)"
                           % (tag, path, r.stderr))

            # what is started
            inst = instances(lines)
            h.check_eq(sorted(inst), ["c1", "s1"], "%s: procd instances" % tag)
            for name, role, path in (("c1", "client", c1), ("s1", "server", s1)):
                params = inst.get(name, [])
                for want in ("set_param command %s %s -c %s" % (braid, role, path),
                             "set_param file %s" % path, "set_param respawn",
                             "set_param stderr 1", "set_param term_timeout 10",
                             "set_param user braid"):
                    h.check_in(want, params, "%s: instance %s params" % (tag, name))
            h.check_in("reload_trigger braid", lines, "%s: procd calls" % tag)
            h.check_in("reload_interface_trigger wan", lines, "%s: procd calls" % tag)
            h.check(any(l.startswith("validate braid client ") and "server_pin:" in l
                        for l in lines), "%s: no client validation spec in %r" % (tag, lines))
            h.check(any(l.startswith("validate braid server ") for l in lines),
                    "%s: no server validation spec in %r" % (tag, lines))

            # what is logged for the sections left out
            h.check("'bad'" in log and "compress" in log and "fast" in log,
                    "%s: check-config error for section 'bad' not logged: %r" % (tag, log))
            h.check("'nofile'" in log, "%s: validation error for section 'nofile' not logged: %r"
                    % (tag, log))
            h.check("'c1'" not in log and "'s1'" not in log,
                    "%s: errors logged for good sections: %r" % (tag, log))

        def no_user(shell, tag):
            _, lines, _ = run_init(shell, tag, passwd_without)
            inst = instances(lines)
            h.check_eq(sorted(inst), ["c1", "s1"], "%s: procd instances" % tag)
            for name, params in inst.items():
                h.check(not any(p.startswith("set_param user") for p in params),
                        "%s: instance %s runs as a user that does not exist: %r"
                        % (tag, name, params))

        def rerun_removes_stale(shell, tag):
            confdir, _, _ = run_init(shell, tag, passwd_with)
            stale = h.write(os.path.join(confdir, "gone.conf"), "[client]\n")
            run_init(shell, tag, passwd_with)
            h.check(not os.path.exists(stale), "%s: stale gone.conf kept on reload" % tag)

        cases = []
        for name, shell in shells():
            tag = os.path.basename(name).replace(" ", "-")
            cases += [
                ("%s: render, check and start enabled sections" % name,
                 lambda s=shell, t=tag: rendering(s, t)),
                ("%s: no user braid, no user param" % name,
                 lambda s=shell, t=tag + "-nouser": no_user(s, t)),
                ("%s: a reload drops files of removed sections" % name,
                 lambda s=shell, t=tag + "-again": rerun_removes_stale(s, t)),
            ]
        h.run_cases(cases)


if __name__ == "__main__":
    h.main(test)
