#!/usr/bin/env bash
# doc.options - every localsad option is documented, and nothing documented is gone:
# the config options and flags `localsad --help` lists must equal those in localsad.8
# (CONFIGURATION and OPTIONS sections) and the option rows of docs/configuration.md; and the
# options a reload applies ([reload] in --help) must be the list in docs/configuration.md; and no
# man page holds control bytes (escapes gone wrong).
#   options.sh LOCALSAD SRC_DIR
set -euo pipefail
bin=$1 src=$2
man=$src/src/daemon/localsad.8 ref=$src/docs/configuration.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" --help >"$tmp/help"
sed -n '/^config options/,$p' "$tmp/help" | sed -n 's/^  \([a-z][a-z0-9_]*\) .*/\1/p' | sort -u >"$tmp/help.opts"
sed '/^config options/,$d' "$tmp/help" | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/help.flags"

# Bold words of the CONFIGURATION section's tags (.B / .BR lines) that look like option names.
sed -n '/^\.SH CONFIGURATION/,/^\.SH /p' "$man" | grep -E '^\.BR? ' | sed 's/^\.BR\{0,1\} //' |
	tr -s ' ,"' '\n' | grep -E '^[a-z][a-z0-9]*(_[a-z0-9]+)+$|^(ca|port|ports|role|netlink)$' | sort -u >"$tmp/man.opts"
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$man" | sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z-]*' |
	sort -u >"$tmp/man.flags"
sed -n 's/^| `\([a-z][a-z0-9_]*\)` |.*/\1/p' "$ref" | sort -u >"$tmp/ref.opts"
# What a reload applies: the options --help marks [reload], and the list in docs/configuration.md.
sed -n '/^config options/,$p' "$tmp/help" | sed -n 's/^  \([a-z][a-z0-9_]*\) .*\[reload\]$/\1/p' | sort -u >"$tmp/help.live"
sed -n 's/^Applied at reload: //p' "$ref" | grep -o '`[a-z0-9_]*`' | tr -d '`' | sort -u >"$tmp/ref.live"

. "$(dirname "$0")/compare.sh"
check "config options" "$tmp/help.opts" "localsad --help" "$tmp/man.opts" "localsad.8"
check "config options" "$tmp/help.opts" "localsad --help" "$tmp/ref.opts" "docs/configuration.md"
check "flags" "$tmp/help.flags" "localsad --help" "$tmp/man.flags" "localsad.8"
check "options applied at reload" "$tmp/help.live" "localsad --help" "$tmp/ref.live" "docs/configuration.md"
[ "$(wc -l <"$tmp/help.opts")" -gt 20 ] || { echo "FAIL: too few options parsed from --help"; status=1; }
# Control bytes in a man page are escapes gone wrong ("\fB" written as a form feed once).
for page in "$man" "$src/tools/cli/localsa.1" "$src/lib/liblocalsa.3"; do
	if LC_ALL=C tr -d '\t\n' <"$page" | LC_ALL=C grep -q '[[:cntrl:]]'; then
		echo "FAIL: control bytes in $page"
		status=1
	fi
done
[ $status = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
