#!/usr/bin/env bash
# doc.cli - the localsa CLI's man page says what `localsa --help` and each `localsa COMMAND
# --help` say: the same commands, and the same options (global and per command), both ways.
#   cli_options.sh LOCALSA SRC_DIR
set -euo pipefail
bin=$1 src=$2
man=$src/tools/cli/localsa.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" --help >"$tmp/help"
sed -n 's/^  \([a-z]\+\) .*/\1/p' "$tmp/help" | sort -u >"$tmp/help.cmds"
for c in $(cat "$tmp/help.cmds"); do "$bin" "$c" --help; done >"$tmp/cmd.help"
cat "$tmp/help" "$tmp/cmd.help" | grep -o -- '--[a-z][a-z_-]*' | sort -u >"$tmp/help.flags"

# Commands: the tags of the COMMANDS section; options: every --word of the page.
sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$man" | sed -n '/^\.TP/{n;p}' | sed 's/\\f[BIR]//g; s/^\.B //' |
	awk '{print $1}' | sort -u >"$tmp/man.cmds"
sed 's/\\-/-/g; s/\\f[BIR]//g' "$man" | grep -o -- '--[a-z][a-z_-]*' | sort -u >"$tmp/man.flags"

. "$(dirname "$0")/compare.sh"
check "commands" "$tmp/help.cmds" "localsa --help" "$tmp/man.cmds" "localsa.1"
check "options" "$tmp/help.flags" "localsa --help and COMMAND --help" "$tmp/man.flags" "localsa.1"
[ "$(wc -l <"$tmp/help.cmds")" -ge 9 ] || { echo "FAIL: too few commands parsed from --help"; status=1; }
[ $status = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $status
