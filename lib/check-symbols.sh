#!/bin/sh
# check-symbols.sh LIB.so LIB.a - what liblocalsa contains (issue 14): the shared library exports
# localsa_* and nothing else, and neither library holds the daemon's cache (pr_cache_*) or the
# snapshot writer (snap_writer_*), defined or wanted. It does hold the snapshot reader.
set -eu
so=$1 a=$2
fail=0
say() { echo "lib.symbols: $*" >&2; fail=1; }

# The version node (LOCALSA_1.0) is an absolute symbol of its own.
extra=$(nm -D --defined-only "$so" | awk 'NF >= 3 && $3 !~ /^localsa_/ && $3 !~ /^LOCALSA_/ { print $3 }')
[ -z "$extra" ] || say "$so exports more than localsa_*: $(echo $extra)"
nm -D --defined-only "$so" | grep -q ' T localsa_open@@LOCALSA_1.0$' ||
	say "$so does not export localsa_open@@LOCALSA_1.0"
for f in "$so" "$a"; do
	daemon=$(nm "$f" 2>/dev/null | awk '$NF ~ /^(pr_cache_|snap_writer_)/ { print $NF }' | sort -u)
	[ -z "$daemon" ] || say "$f holds the daemon's code: $(echo $daemon)"
done
nm "$a" | grep -q ' T snap_lookup$' || say "$a lacks the snapshot reader (snap_lookup)"
[ $fail = 0 ] && echo "lib.symbols: only localsa_* exported; no pr_cache_*, no snap_writer_*"
exit $fail
