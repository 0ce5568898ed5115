#!/bin/sh
# check-config-args.sh LOCALSAD - the config file is read however getopt lets the command line
# spell it: -c F, -cF, -fc F, --config F, --config=F, --conf F (an abbreviation). A file with a
# bad line makes every spelling fail naming it; once, all but -c and --config read nothing.
set -eu
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'bogus_key 1\n' >"$dir/bad.conf"
fail=0
for args in "-c $dir/bad.conf" "-c$dir/bad.conf" "-fc $dir/bad.conf" "-fc$dir/bad.conf" \
	"--config $dir/bad.conf" "--config=$dir/bad.conf" "--conf $dir/bad.conf" \
	"--conf=$dir/bad.conf"; do
	# shellcheck disable=SC2086 # the words of $args are the arguments
	if out=$("$bin" $args -V 2>&1); then
		echo "FAIL: localsad $args -V accepted a file with an unknown option" >&2
		fail=1
	elif ! printf '%s\n' "$out" | grep -q "bad.conf:1"; then
		echo "FAIL: localsad $args -V: no error naming bad.conf:1, got: $out" >&2
		fail=1
	fi
done
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
